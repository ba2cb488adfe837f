import { movementRows } from './accountBuckets.js';
import type { LedgerChanges } from './accountLedger.js';
import { type EntryFlushRow, entryInsertColumns, entryInsertValues, entryRecordType } from './entriesTable.js';
import { entryTypes } from './entryTypes.js';
import type { StagedEntry } from './entryView.js';
import { rollupBlockEntries } from './writeStatements.js';

/** The kinds of rows a flush document carries besides its accounts. */
export const flushParts = ['new_buckets', 'bucket_updates', 'entries', 'movements', 'new_deposits', 'settled_deposits', 'audit'] as const;
export type FlushPart = (typeof flushParts)[number];

/** One account's part of a flush; each part's rows are concatenated across the accounts flushed together. */
export type FlushPayload = Record<Exclude<FlushPart, 'entries'>, object[]> & {
  account: {
    id: string;
    expected_seq: string;
    /** Every key its entries carry: none may have been used on the account before. */
    keys: string[];
    balance: string;
    outstanding: string;
    last_seq: string;
    now: string;
    /** What this write adds to the account's usage rollups, per moment its entries happened: `now`, or a late event's. */
    usage: { at: string; used: string; added: string; usage_count: number }[];
  };
  entries: EntryFlushRow[];
};

/** One account's write as the flush's rows, each naming its account (a flush writes several, each only if still at `expected_seq`). */
export function toFlush(changes: LedgerChanges): FlushPayload {
  const account_id = changes.accountId;
  return {
    account: accountRow(changes),
    new_buckets: changes.buckets
      .filter((b) => b.isNew)
      .map((b) => ({
        account_id,
        id: b.id,
        kind: b.kind,
        granted: b.granted.toString(),
        remaining: b.remaining.toString(),
        priority: b.priority,
        expires_at: b.expiresAt?.toISOString() ?? null,
      })),
    bucket_updates: changes.buckets.filter((b) => !b.isNew).map((b) => ({ account_id, id: b.id, remaining: b.remaining.toString() })),
    entries: changes.entries.map((e) => entryRow(account_id, e)),
    movements: movementRows(changes.entries, changes.buckets).map((m) => ({
      account_id,
      entry_id: m.entryId,
      seq: m.seq.toString(),
      bucket_id: m.bucketId,
      amount: m.amount.toString(),
      remaining_after: m.remainingAfter.toString(),
    })),
    new_deposits: changes.newDeposits.map((d) => ({
      account_id,
      id: d.id,
      entry_id: d.entryId,
      charged: d.charged.toString(),
      held: d.held.toString(),
      action: d.action,
    })),
    settled_deposits: changes.settledDeposits.map((d) => ({
      account_id,
      id: d.id,
      status: d.status,
      settled_entry_id: d.settledEntryId,
      actual_amount: d.actualAmount?.toString() ?? null,
    })),
    audit: changes.audit.map((a) => ({
      account_id,
      actor_kind: a.actor.kind,
      actor_id: a.actor.id ?? null,
      action: a.action,
      entry_id: a.entryId,
      reason: a.reason,
      origin: a.origin ?? null,
      details: a.details,
    })),
  };
}

/** The account's new state, guarded by the sequence it started from, and what it adds to the usage rollups. */
function accountRow(changes: LedgerChanges): FlushPayload['account'] {
  const usage = new Map<number, { used: bigint; added: bigint; count: number }>();
  for (const entry of changes.entries) {
    const kind = entryTypes[entry.type].class;
    if (kind !== 'usage' && kind !== 'usageCorrection' && kind !== 'addition') continue;
    const at = (entry.occurredAt ?? changes.now).getTime();
    const sums = usage.get(at) ?? { used: 0n, added: 0n, count: 0 };
    if (kind === 'addition') sums.added += entry.amount;
    else sums.used -= entry.amount;
    if (kind === 'usage') sums.count += 1;
    usage.set(at, sums);
  }
  return {
    id: changes.accountId,
    expected_seq: changes.startSeq.toString(),
    keys: changes.entries.map((e) => e.idempotencyKey),
    balance: changes.balance.toString(),
    outstanding: changes.outstanding.toString(),
    last_seq: changes.lastSeq.toString(),
    now: changes.now.toISOString(),
    usage: [...usage].map(([at, sums]) => ({ at: new Date(at).toISOString(), used: sums.used.toString(), added: sums.added.toString(), usage_count: sums.count })),
  };
}

function entryRow(account_id: string, e: StagedEntry): EntryFlushRow {
  return {
    account_id,
    id: e.id,
    seq: e.seq.toString(),
    type: e.type,
    category: e.category,
    action: e.action,
    quantity: e.quantity,
    description: e.description,
    amount: e.amount.toString(),
    balance_after: e.balanceAfter.toString(),
    outstanding_after: e.outstandingAfter.toString(),
    original_amount: e.originalAmount?.toString() ?? null,
    discount_percent: e.discountPercent,
    source_kind: e.source.kind ?? null,
    source_id: e.source.id ?? null,
    source_label: e.source.label ?? null,
    source_url: e.source.url ?? null,
    actor_kind: e.actor.kind,
    actor_id: e.actor.id,
    note: e.note,
    idempotency_key: e.idempotencyKey,
    request_hash: e.requestHash,
    corrects_id: e.correctsId,
    group_seq: e.groupSeq.toString(),
    occurred_at: e.occurredAt?.toISOString() ?? null,
  };
}

/** The accounts' flushes as one document. */
export function mergeFlushes(flushes: FlushPayload[]): FlushDocument {
  const doc = { accounts: flushes.map((f) => f.account) } as FlushDocument;
  for (const part of flushParts) doc[part] = flushes.flatMap((f): object[] => f[part]);
  return doc;
}

export type FlushDocument = Record<FlushPart | 'accounts', object[]>;

/**
 * The accounts written together in one statement, only the parts their rows need (each combination prepared once); an account whose
 * seq moved or key was used writes nothing (missing from `written`); a deadlock fails it whole, and writeAttempt.ts redoes each alone.
 */
export function flushStatement(doc: FlushDocument): { name: string; text: string } {
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

// The statement's parts stay long: each is one SQL statement, read whole. The accounts come from $1, not the input
// CTE: joined with it, every account row carried the whole document into the hash (6 MB for 64 renewals, spilled).
const accountPart = `
  UPDATE accounts SET balance = a.balance, outstanding = a.outstanding, last_seq = a.last_seq
  FROM jsonb_to_recordset($1::jsonb->'accounts') AS a(id uuid, expected_seq bigint, keys text[], balance bigint, outstanding bigint,
    last_seq bigint, now timestamptz, usage jsonb)
  WHERE accounts.id = ANY(ARRAY(SELECT (account->>'id')::uuid FROM jsonb_array_elements($1::jsonb->'accounts') account))
    AND accounts.id = a.id AND accounts.last_seq = a.expected_seq
    AND NOT EXISTS (SELECT FROM unnest(a.keys) AS k(key)
                    WHERE (SELECT true FROM entries used WHERE used.account_id = a.id AND used.idempotency_key = k.key))
  RETURNING accounts.id, a.now, a.usage`;

// Each into the quarter hour its entries happened in (a late event's, not the write's).
const rollupPart = `
  INSERT INTO usage_rollups (account_id, period_start, used, added, usage_count)
  SELECT account.id, date_bin('15 minutes', u.at, '2000-01-01T00:00:00Z'), sum(u.used), sum(u.added), sum(u.usage_count)
  FROM account, jsonb_to_recordset(account.usage) AS u(at timestamptz, used bigint, added bigint, usage_count int)
  GROUP BY 1, 2
  ON CONFLICT (account_id, period_start) DO UPDATE SET used = usage_rollups.used + EXCLUDED.used,
    added = usage_rollups.added + EXCLUDED.added, usage_count = usage_rollups.usage_count + EXCLUDED.usage_count`;

/** The entries just written, added into their blocks of the reports' rollups in the same statement ('' stands for none). */
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
  // The entry's columns come from entriesTable.ts; RETURNING gives the rollups what they add up.
  entries: `
  INSERT INTO entries (account_id, created_at, ${entryInsertColumns})
  SELECT account.id, account.now, ${entryInsertValues}
  FROM input, jsonb_to_recordset(doc->'entries') AS e(${entryRecordType}), account
  WHERE account.id = e.account_id
  RETURNING account_id, seq, type, category, action, quantity, amount, source_kind, source_id, source_label, actor_kind, actor_id,
    group_seq`,
  movements: `
  INSERT INTO movements (account_id, entry_id, seq, bucket_id, amount, remaining_after)
  SELECT account.id, m.entry_id, m.seq, m.bucket_id, m.amount, m.remaining_after
  FROM input, jsonb_to_recordset(doc->'movements')
    AS m(account_id uuid, entry_id uuid, seq bigint, bucket_id uuid, amount bigint, remaining_after bigint), account
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
