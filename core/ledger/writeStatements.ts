/**
 * The statements of a ledger write, each covering every account written together: read the
 * accounts' state, then write all that was staged on them.
 */

/**
 * Each account's state (no row for no such account) and, of the keys its writes bring, those
 * used before with the request they were used for. $1: [{ id, keys }].
 *
 * A prepared statement, planned once per connection and again when the tables' statistics change
 * (core/db/database.ts keeps them fresh where the server's autovacuum does not). Its plan cannot
 * depend on how many accounts or keys come: the accounts are looked up one by one on the primary
 * key (a LATERAL subquery the planner cannot turn into a scan of the table), every other lookup is
 * by account, and the keys one at a time on (account_id, idempotency_key). A plan made on empty
 * tables finds a key by walking the account's entries instead; statistics end that.
 */
export const readStateStatement = `
SELECT a.id::text AS account_id, json_build_object(
  'balance', a.balance::text,
  'outstanding', a.outstanding::text,
  'last_seq', a.last_seq::text,
  'now', date_trunc('milliseconds', clock_timestamp()),
  'replay_hashes', (SELECT coalesce(json_object_agg(used.key, used.request_hash), '{}'::json)
                    FROM (SELECT k.key, (SELECT e.request_hash FROM entries e
                                         WHERE e.account_id = a.id AND e.idempotency_key = k.key) AS request_hash
                          FROM unnest(r.keys) AS k(key)) used
                    WHERE used.request_hash IS NOT NULL),
  'buckets', (SELECT coalesce(json_agg(json_build_object(
                'id', b.id, 'kind', b.kind, 'granted', b.granted::text, 'remaining', b.remaining::text,
                'priority', b.priority, 'expires_at', b.expires_at, 'created_at', b.created_at)), '[]'::json)
              FROM buckets b WHERE b.account_id = a.id AND b.remaining > 0),
  'last_entry', (SELECT json_build_object(
                   'type', e.type, 'category', e.category, 'source_kind', e.source_kind, 'source_id', e.source_id,
                   'group_seq', e.group_seq::text, 'group_started_at', g.created_at, 'created_at', e.created_at)
                 FROM entries e JOIN entries g ON g.account_id = e.account_id AND g.seq = e.group_seq
                 WHERE e.account_id = a.id AND e.seq = a.last_seq)) AS state
FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, keys text[])
CROSS JOIN LATERAL (SELECT * FROM accounts WHERE accounts.id = r.id OFFSET 0) a`;

/** Entries per block of `entry_rollups` (its `block` is seq / this); the migration backfilled with the same. */
export const rollupBlockEntries = 1024;

/** Taken before reading an account another process wrote meanwhile, so the write cannot miss again. */
export const lockAccountStatement = 'SELECT 1 FROM accounts WHERE id = $1::uuid FOR UPDATE';

/**
 * Every change of the accounts written together, from one JSON document, in one statement:
 * `account` and `rollup` always, and the part for each kind of row the write has (a spend: its
 * entry, its movements and the buckets it drew from). Writing only those keeps the statement small
 * (every part costs its tables' set-up on each run); each combination is prepared once.
 *
 * `account` moves each account only if its sequence is still the one its write started from and
 * none of the keys its entries carry was used on it before (a write that started from what this
 * process knew has not read its keys); every other part joins `account`, so an account that does
 * not move writes nothing, and is missing from `written`. The accounts are found by the primary key through an array built from the document
 * at run time: a plan that cannot depend on the parameter's value, so PostgreSQL keeps the
 * connection's generic plan instead of planning every run (its custom plan, knowing the array,
 * looked cheaper, and planning cost more than running). (Two processes' statements may lock shared
 * accounts in different orders; the deadlock PostgreSQL then breaks fails one statement, which
 * ledgerWrite redoes account by account.)
 */
export function flushStatement(doc: Record<FlushPart, unknown[]>): { name: string; text: string } {
  const present = flushParts.filter((part) => doc[part].length > 0);
  const name = `creditkeeper_flush_${present.map((part) => flushPartCodes[part]).join('')}`;
  let text = flushStatements.get(name);
  if (!text) {
    text = [
      'WITH input AS (SELECT $1::jsonb AS doc)',
      `account AS (${accountPart}\n)`,
      ...present.map((part) => `write_${part} AS (${flushPartSql[part]}\n)`),
      ...(present.includes('entries') ? [`write_entry_rollups AS (${entryRollupsPart}\n)`, `write_activity_counts AS (${activityCountsPart}\n)`] : []),
      `rollup AS (${rollupPart}\n)`,
    ].join(',\n') + "\nSELECT coalesce(array_agg(account.id::text), '{}') AS written FROM account";
    flushStatements.set(name, text);
  }
  return { name, text };
}

/** The kinds of rows a flush document carries besides its accounts. */
export const flushParts = ['new_buckets', 'bucket_updates', 'entries', 'movements', 'new_deposits', 'settled_deposits', 'audit'] as const;
export type FlushPart = (typeof flushParts)[number];

const flushPartCodes: Record<FlushPart, string> = {
  new_buckets: 'b',
  bucket_updates: 'u',
  entries: 'e',
  movements: 'm',
  new_deposits: 'd',
  settled_deposits: 's',
  audit: 'a',
};
const flushStatements = new Map<string, string>();

const accountPart = `
  UPDATE accounts SET balance = a.balance, outstanding = a.outstanding, last_seq = a.last_seq
  FROM input, jsonb_to_recordset(doc->'accounts') AS a(id uuid, expected_seq bigint, keys text[], balance bigint, outstanding bigint,
    last_seq bigint, now timestamptz, used bigint, added bigint, usage_count int, entry_count int)
  WHERE accounts.id = ANY(ARRAY(SELECT (account->>'id')::uuid FROM jsonb_array_elements($1::jsonb->'accounts') account))
    AND accounts.id = a.id AND accounts.last_seq = a.expected_seq
    AND NOT EXISTS (SELECT FROM unnest(a.keys) AS k(key)
                    WHERE (SELECT true FROM entries used WHERE used.account_id = a.id AND used.idempotency_key = k.key))
  RETURNING accounts.id, a.now, a.used, a.added, a.usage_count, a.entry_count`;

const rollupPart = `
  INSERT INTO usage_rollups (account_id, period_start, used, added, usage_count)
  SELECT account.id, date_bin('15 minutes', account.now, '2000-01-01T00:00:00Z'), account.used, account.added, account.usage_count
  FROM account WHERE account.entry_count > 0
  ON CONFLICT (account_id, period_start) DO UPDATE SET used = usage_rollups.used + EXCLUDED.used,
    added = usage_rollups.added + EXCLUDED.added, usage_count = usage_rollups.usage_count + EXCLUDED.usage_count`;

/**
 * The entries just written, added into their blocks of the reports' rollups (what /why and the
 * activity log's totals read instead of the log) in the same statement, so the two never disagree.
 * In the rollups' key '' stands for none.
 */
const entryRollupsPart = `
  INSERT INTO entry_rollups AS r (account_id, block, type, category, action, source_kind, source_id, actor_kind, actor_id,
    entries, quantity, amount, source_label, smallest_amount, largest_amount)
  SELECT account_id, seq / ${rollupBlockEntries}, type, coalesce(category, ''), coalesce(action, ''), coalesce(source_kind, ''),
    coalesce(source_id, ''), actor_kind, coalesce(actor_id, ''), count(*), sum(quantity), sum(amount), max(source_label),
    min(amount), max(amount)
  FROM write_entries GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
  ON CONFLICT (account_id, block, type, category, action, source_kind, source_id, actor_kind, actor_id) DO UPDATE SET
    entries = r.entries + EXCLUDED.entries,
    quantity = CASE WHEN EXCLUDED.quantity IS NULL THEN r.quantity ELSE coalesce(r.quantity, 0) + EXCLUDED.quantity END,
    amount = r.amount + EXCLUDED.amount, source_label = greatest(r.source_label, EXCLUDED.source_label),
    smallest_amount = least(r.smallest_amount, EXCLUDED.smallest_amount),
    largest_amount = greatest(r.largest_amount, EXCLUDED.largest_amount)`;

const activityCountsPart = `
  INSERT INTO activity_counts AS c (account_id, type, rows)
  SELECT account_id, type, count(*) FROM write_entries WHERE seq = group_seq GROUP BY 1, 2
  ON CONFLICT (account_id, type) DO UPDATE SET rows = c.rows + EXCLUDED.rows`;

const flushPartSql: Record<FlushPart, string> = {
  new_buckets: `
  INSERT INTO buckets (id, account_id, kind, granted, remaining, priority, expires_at, created_at)
  SELECT b.id, account.id, b.kind::"BucketKind", b.granted, b.remaining, b.priority, b.expires_at, account.now
  FROM input, jsonb_to_recordset(doc->'new_buckets')
    AS b(account_id uuid, id uuid, kind text, granted bigint, remaining bigint, priority int, expires_at timestamptz), account
  WHERE account.id = b.account_id`,
  bucket_updates: `
  UPDATE buckets SET remaining = u.remaining
  FROM input, jsonb_to_recordset(doc->'bucket_updates') AS u(account_id uuid, id uuid, remaining bigint), account
  WHERE account.id = u.account_id AND buckets.account_id = u.account_id AND buckets.id = u.id`,
  entries: `
  INSERT INTO entries (id, account_id, seq, type, category, action, quantity, description, amount, balance_after, outstanding_after,
    original_amount, discount_percent, source_kind, source_id, source_label, source_url, actor_kind, actor_id, note,
    idempotency_key, request_hash, corrects_id, group_seq, created_at)
  SELECT e.id, account.id, e.seq, e.type::"EntryType", e.category, e.action, e.quantity, e.description, e.amount,
    e.balance_after, e.outstanding_after, e.original_amount, e.discount_percent, e.source_kind, e.source_id,
    e.source_label, e.source_url, e.actor_kind::"ActorKind", e.actor_id, e.note, e.idempotency_key, e.request_hash,
    e.corrects_id, e.group_seq, account.now
  FROM input, jsonb_to_recordset(doc->'entries') AS e(account_id uuid, id uuid, seq bigint, type text, category text,
    action text, quantity int, description text, amount bigint, balance_after bigint, outstanding_after bigint, original_amount bigint,
    discount_percent int, source_kind text, source_id text, source_label text, source_url text, actor_kind text,
    actor_id text, note text, idempotency_key text, request_hash text, corrects_id uuid, group_seq bigint), account
  WHERE account.id = e.account_id
  RETURNING account_id, seq, type, category, action, quantity, amount, source_kind, source_id, source_label, actor_kind, actor_id,
    group_seq`,
  movements: `
  INSERT INTO movements (entry_id, bucket_id, amount)
  SELECT m.entry_id, m.bucket_id, m.amount
  FROM input, jsonb_to_recordset(doc->'movements') AS m(account_id uuid, entry_id uuid, bucket_id uuid, amount bigint), account
  WHERE account.id = m.account_id`,
  new_deposits: `
  INSERT INTO deposits (id, account_id, entry_id, charged, held, action, created_at)
  SELECT d.id, account.id, d.entry_id, d.charged, d.held, d.action, account.now
  FROM input, jsonb_to_recordset(doc->'new_deposits')
    AS d(account_id uuid, id uuid, entry_id uuid, charged bigint, held bigint, action text), account
  WHERE account.id = d.account_id`,
  settled_deposits: `
  UPDATE deposits SET status = s.status::"DepositStatus", settled_entry_id = s.settled_entry_id,
    actual_amount = s.actual_amount, settled_at = account.now
  FROM input, jsonb_to_recordset(doc->'settled_deposits')
    AS s(account_id uuid, id uuid, status text, settled_entry_id uuid, actual_amount bigint), account
  WHERE account.id = s.account_id AND deposits.account_id = s.account_id AND deposits.id = s.id`,
  audit: `
  INSERT INTO audit_log (id, actor_kind, actor_id, action, outcome, account_id, entry_id, reason, origin, details, created_at)
  SELECT gen_random_uuid(), a.actor_kind::"ActorKind", a.actor_id, a.action, 'done', account.id, a.entry_id, a.reason,
    a.origin, a.details, account.now
  FROM input, jsonb_to_recordset(doc->'audit')
    AS a(account_id uuid, actor_kind text, actor_id text, action text, entry_id uuid, reason text, origin jsonb, details jsonb), account
  WHERE account.id = a.account_id`,
};
