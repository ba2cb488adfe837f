import type { Database } from '../db/database.js';
import { rollupBlockEntries } from './writeStatements.js';

/**
 * Checks every invariant the ledger promises, straight from the tables, so it catches a bug
 * in the code that wrote them as well as a hand-edited row.
 */
export interface InvariantCheck {
  name: string;
  description: string;
  violations: Record<string, unknown>[];
}

export interface VerifyReport {
  ok: boolean;
  accounts: number;
  entries: number;
  checks: InvariantCheck[];
}

const sampleLimit = 20;

const checks: { name: string; description: string; sql: string }[] = [
  {
    name: 'balance-equals-entries',
    description: 'each balance equals the sum of its entries',
    sql: `SELECT a.id AS account_id, a.balance::text, coalesce(sum(e.amount), 0)::text AS entries_sum
          FROM accounts a LEFT JOIN entries e ON e.account_id = a.id
          GROUP BY a.id HAVING a.balance <> coalesce(sum(e.amount), 0)`,
  },
  {
    name: 'balance-equals-buckets',
    description: "each balance equals the credits left in its buckets",
    sql: `SELECT a.id AS account_id, a.balance::text, coalesce(sum(b.remaining), 0)::text AS buckets_sum
          FROM accounts a LEFT JOIN buckets b ON b.account_id = a.id
          GROUP BY a.id HAVING a.balance <> coalesce(sum(b.remaining), 0)`,
  },
  {
    name: 'balance-after-chain',
    description:
      'entries are numbered 1, 2, 3… in time order, and each balance after (and outstanding after) follows from the one before',
    sql: `SELECT account_id, seq::text, amount::text, balance_after::text, prev_balance::text FROM (
            SELECT account_id, seq, amount, balance_after, outstanding_after,
              created_at, lag(seq) OVER w AS prev_seq, lag(balance_after) OVER w AS prev_balance,
              lag(created_at) OVER w AS prev_created_at
            FROM entries WINDOW w AS (PARTITION BY account_id ORDER BY seq)) c
          WHERE seq <> coalesce(prev_seq, 0) + 1 OR balance_after <> coalesce(prev_balance, 0) + amount
             OR balance_after < 0 OR outstanding_after < 0 OR created_at < prev_created_at`,
  },
  {
    name: 'account-matches-last-entry',
    description: "each account's balance, outstanding and sequence match its last entry",
    sql: `SELECT a.id AS account_id, a.balance::text, a.outstanding::text, a.last_seq::text,
            e.balance_after::text, e.outstanding_after::text
          FROM accounts a LEFT JOIN entries e ON e.account_id = a.id AND e.seq = a.last_seq
          WHERE (a.last_seq = 0 AND (a.balance <> 0 OR a.outstanding <> 0))
             OR (a.last_seq > 0 AND (e.id IS NULL OR e.balance_after <> a.balance OR e.outstanding_after <> a.outstanding))`,
  },
  {
    name: 'entry-equals-movements',
    description: "each entry's amount equals what it moved in and out of buckets",
    sql: `SELECT e.id AS entry_id, e.amount::text, coalesce(sum(m.amount), 0)::text AS movements_sum
          FROM entries e LEFT JOIN movements m ON m.account_id = e.account_id AND m.entry_id = e.id
          GROUP BY e.account_id, e.id HAVING e.amount <> coalesce(sum(m.amount), 0)`,
  },
  {
    name: 'bucket-equals-movements',
    description: "each bucket's credits left equal the movements into and out of it",
    sql: `SELECT b.id AS bucket_id, b.remaining::text, coalesce(sum(m.amount), 0)::text AS movements_sum
          FROM buckets b LEFT JOIN movements m ON m.account_id = b.account_id AND m.bucket_id = b.id
          GROUP BY b.account_id, b.id HAVING b.remaining <> coalesce(sum(m.amount), 0)`,
  },
  {
    name: 'movement-remaining-chain',
    description:
      "each movement carries its entry's seq (its account is its entry's and its bucket's by the foreign keys) and what its bucket held after it (the movement before's plus its amount; the last's is what the bucket holds), and a bucket opens with its first movement, at that entry's time",
    sql: `SELECT account_id, bucket_id, seq::text, amount::text, remaining_after::text, before::text FROM (
            SELECT m.account_id, m.bucket_id, m.seq, m.amount, m.remaining_after, e.seq AS entry_seq,
              e.created_at, b.remaining, b.created_at AS opened_at,
              lag(m.remaining_after) OVER w AS before, row_number() OVER w AS nth, count(*) OVER (PARTITION BY m.bucket_id) AS movements
            FROM movements m JOIN entries e ON e.account_id = m.account_id AND e.id = m.entry_id
              JOIN buckets b ON b.account_id = m.account_id AND b.id = m.bucket_id
            WINDOW w AS (PARTITION BY m.bucket_id ORDER BY m.seq)) c
          WHERE seq <> entry_seq OR remaining_after < 0
             OR remaining_after <> coalesce(before, 0) + amount OR (nth = movements AND remaining_after <> remaining)
             OR (nth = 1 AND created_at <> opened_at)`,
  },
  {
    name: 'no-expired-credit-spent',
    description: 'no credit was drawn from a bucket after it expired (other than by its expiry entry)',
    sql: `SELECT e.id AS entry_id, b.id AS bucket_id, b.expires_at, e.created_at
          FROM movements m JOIN entries e ON e.account_id = m.account_id AND e.id = m.entry_id
            JOIN buckets b ON b.account_id = m.account_id AND b.id = m.bucket_id
          WHERE m.amount < 0 AND e.type <> 'EXPIRY' AND b.expires_at IS NOT NULL AND e.created_at >= b.expires_at`,
  },
  {
    name: 'deposits-settled-once',
    description: 'in-flight deposits have no settlement; settled deposits have exactly their one settling entry',
    sql: `SELECT d.id AS deposit_id, d.status FROM deposits d
          WHERE (d.status = 'IN_FLIGHT') <> (d.settled_entry_id IS NULL)
             OR (SELECT count(*) FROM entries e WHERE e.account_id = d.account_id AND e.corrects_id = d.entry_id
                   AND e.type IN ('DEPOSIT_RECONCILIATION', 'DEPOSIT_VOID')) <> (CASE WHEN d.status = 'IN_FLIGHT' THEN 0 ELSE 1 END)`,
  },
  {
    name: 'usage-groups-well-formed',
    description: 'a usage group is a run of consecutive usage entries of one category and source',
    sql: `SELECT e.account_id, e.seq::text, e.group_seq::text FROM entries e
          LEFT JOIN entries p ON p.account_id = e.account_id AND p.seq = e.seq - 1
          WHERE e.group_seq > e.seq
             OR (e.group_seq < e.seq AND (p.id IS NULL OR p.group_seq <> e.group_seq OR e.type <> 'USAGE'
                 OR p.type <> 'USAGE' OR p.category IS DISTINCT FROM e.category
                 OR p.source_kind IS DISTINCT FROM e.source_kind OR p.source_id IS DISTINCT FROM e.source_id))`,
  },
  {
    name: 'rollups-equal-entries',
    description: "each block's rollups (what /why reads) add up exactly what its entries do",
    sql: `SELECT account_id, block::text, type, category, action, e.entries AS entries_count, r.entries AS rollup_count
          FROM (SELECT account_id, seq / ${rollupBlockEntries} AS block, type, coalesce(category, '') AS category,
                  coalesce(action, '') AS action, coalesce(source_kind, '') AS source_kind, coalesce(source_id, '') AS source_id,
                  actor_kind, coalesce(actor_id, '') AS actor_id, count(*)::int AS entries, sum(quantity) AS quantity,
                  sum(amount) AS amount, max(source_label) AS source_label, min(amount) AS smallest_amount, max(amount) AS largest_amount
                FROM entries GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9) e
          FULL JOIN entry_rollups r USING (account_id, block, type, category, action, source_kind, source_id, actor_kind, actor_id)
          WHERE e.entries IS DISTINCT FROM r.entries OR e.quantity IS DISTINCT FROM r.quantity OR e.amount IS DISTINCT FROM r.amount
             OR e.source_label IS DISTINCT FROM r.source_label OR e.smallest_amount IS DISTINCT FROM r.smallest_amount
             OR e.largest_amount IS DISTINCT FROM r.largest_amount`,
  },
  {
    name: 'activity-counts-equal-rows',
    description: "each account's count of activity rows per type equals its entries that start a row",
    sql: `SELECT account_id, type, e.rows::text AS rows, c.rows::text AS counted
          FROM (SELECT account_id, type, count(*) AS rows FROM entries WHERE seq = group_seq GROUP BY 1, 2) e
          FULL JOIN activity_counts c USING (account_id, type)
          WHERE e.rows IS DISTINCT FROM c.rows`,
  },
  {
    name: 'outstanding-only-when-empty',
    description: 'credits are owed only while nothing spendable is left (additions pay what is owed first)',
    sql: `SELECT a.id AS account_id, a.outstanding::text, sum(b.remaining)::text AS spendable
          FROM accounts a JOIN buckets b ON b.account_id = a.id
          WHERE a.outstanding > 0 AND b.remaining > 0 AND (b.expires_at IS NULL OR b.expires_at > now())
          GROUP BY a.id, a.outstanding`,
  },
];

export async function verifyLedger(db: Database): Promise<VerifyReport> {
  const results: InvariantCheck[] = [];
  for (const check of checks) {
    const violations = await db.sql.query<Record<string, unknown>>(`${check.sql} LIMIT ${sampleLimit}`);
    results.push({ name: check.name, description: check.description, violations });
  }
  const [counts] = await db.sql.query<{ accounts: number; entries: number }>(
    'SELECT (SELECT count(*)::int FROM accounts) AS accounts, (SELECT count(*)::int FROM entries) AS entries',
  );
  return {
    ok: results.every((r) => r.violations.length === 0),
    accounts: counts!.accounts,
    entries: counts!.entries,
    checks: results,
  };
}
