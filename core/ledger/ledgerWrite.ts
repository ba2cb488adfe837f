import { createHash } from 'node:crypto';
import type { CoreContext } from '../context.js';
import type { Database } from '../db/database.js';
import type { BucketKind, EntryType } from '../db/generated/enums.js';
import type { SqlSession } from '../db/sqlRunner.js';
import { CreditkeeperError } from '../errors.js';
import type { Actor, Origin } from '../input.js';
import { AccountLedger, type BucketState, type StagedEntry } from './accountLedger.js';
import { type EntryRow, type EntryView, entryColumns, toEntryView } from './entryView.js';

/** What a use-case may read inside its write (its reads are validated by the write's guard). */
export type Tx = SqlSession;

export interface WriteResult {
  /** The entries this operation posted, in order; the first is the operation's own entry. */
  entries: EntryView[];
  /** The account after the operation. */
  balance: bigint;
  outstanding: bigint;
  /** True when this is a retry answered from the first attempt's entries. */
  replayed: boolean;
}

export interface LedgerWriteSpec {
  accountId: string;
  idempotencyKey: string;
  /**
   * The operation's name and validated input: what "the same request" means for a retry
   * (its origin aside). A staff actor's write is also recorded in the audit log, atomically.
   */
  operation: string;
  request: { actor: Actor; origin?: Origin | undefined };
  /** Stages the operation's entries on the ledger; throwing writes nothing. */
  write: (ledger: AccountLedger, tx: Tx) => Promise<void> | void;
  /**
   * The staging reads nothing but the ledger itself (spends, purchases, grants, adjustments):
   * on a busy account such writes are committed together with the others queued behind them.
   * Writes that read entries or deposits of their own (refunds, reversals, reconciliations) run
   * alone, so what they read cannot be changed by a write staged beside them.
   */
  batchable?: boolean;
}

/**
 * The one way credits move. Read the account's state, stage the operation, and write all of it
 * in one statement that only applies if no other write landed on the account in between (its
 * sequence number is unchanged): two round trips, no lock held across them. If another process
 * did write, redo it holding the account's row lock, where the same statement cannot miss.
 *
 * Within a process, writes on one account queue; while one is in flight the next ones wait, and
 * the waiting batchable ones then go together: one read, each staged in turn (a failing one is
 * undone alone and fails alone), one statement. A hot account's throughput grows with its load.
 */
export async function ledgerWrite(ctx: CoreContext, spec: LedgerWriteSpec): Promise<WriteResult> {
  if (!ctx.observer) return write(ctx, spec);
  const started = performance.now();
  try {
    const result = await write(ctx, spec);
    ctx.observer.ledgerWrite?.(spec.operation, result.replayed ? 'replayed' : 'written', (performance.now() - started) / 1000);
    if (!result.replayed) ctx.observer.entriesWritten?.(spec.accountId, result);
    return result;
  } catch (error) {
    const outcome = error instanceof CreditkeeperError ? error.code : 'INTERNAL';
    ctx.observer.ledgerWrite?.(spec.operation, outcome, (performance.now() - started) / 1000);
    throw error;
  }
}

interface Queued {
  spec: LedgerWriteSpec;
  requestHash: string;
  resolve: (result: WriteResult) => void;
  reject: (error: unknown) => void;
}

interface AccountQueue {
  waiting: Queued[];
  running: boolean;
}

const maxBatch = 100;
const queues = new WeakMap<Database, Map<string, AccountQueue>>();

function write(ctx: CoreContext, spec: LedgerWriteSpec): Promise<WriteResult> {
  const requestHash = requestHashOf(spec.operation, spec.request);
  return new Promise((resolve, reject) => {
    let accounts = queues.get(ctx.db);
    if (!accounts) queues.set(ctx.db, (accounts = new Map()));
    let queue = accounts.get(spec.accountId);
    if (!queue) accounts.set(spec.accountId, (queue = { waiting: [], running: false }));
    queue.waiting.push({ spec, requestHash, resolve, reject });
    if (!queue.running) {
      queue.running = true;
      void drain(ctx, spec.accountId, queue, accounts);
    }
  });
}

async function drain(ctx: CoreContext, accountId: string, queue: AccountQueue, accounts: Map<string, AccountQueue>): Promise<void> {
  while (queue.waiting.length > 0) {
    const batch = nextBatch(queue.waiting);
    try {
      await commit(ctx, batch);
    } catch (error) {
      for (const item of batch) item.reject(error);
    }
  }
  queue.running = false;
  accounts.delete(accountId);
}

/** The first waiting write, and the batchable ones right behind it (one per idempotency key). */
function nextBatch(waiting: Queued[]): Queued[] {
  const batch = [waiting.shift()!];
  if (!batch[0]!.spec.batchable) return batch;
  const keys = new Set([batch[0]!.spec.idempotencyKey]);
  while (batch.length < maxBatch && waiting[0]?.spec.batchable && !keys.has(waiting[0].spec.idempotencyKey)) {
    keys.add(waiting[0].spec.idempotencyKey);
    batch.push(waiting.shift()!);
  }
  return batch;
}

async function commit(ctx: CoreContext, batch: Queued[]): Promise<void> {
  const groupWindowMs = ctx.usageGroupWindowMs ?? defaultUsageGroupWindowMs;
  let outcomes = await attempt(ctx.db.sql, batch, groupWindowMs, false);
  if (outcomes === 'conflict') {
    outcomes = await ctx.db.sql.transaction(async (tx) => {
      const locked = await attempt(tx, batch, groupWindowMs, true);
      if (locked === 'conflict') throw new Error('ledger write lost its account lock'); // cannot happen under the lock
      return locked;
    });
  }
  outcomes.forEach((outcome, i) => ('error' in outcome ? batch[i]!.reject(outcome.error) : batch[i]!.resolve(outcome.result)));
}

export const defaultUsageGroupWindowMs = 5 * 60_000;

type Outcome = { result: WriteResult } | { error: unknown };

async function attempt(session: SqlSession, batch: Queued[], groupWindowMs: number, lock: boolean): Promise<Outcome[] | 'conflict'> {
  const accountId = batch[0]!.spec.accountId;
  const [row] = await session.query<{ state: AccountState | null }>(
    'SELECT creditkeeper_write_state($1::uuid, $2::text[], $3) AS state',
    [accountId, batch.map((item) => item.spec.idempotencyKey), lock],
    'creditkeeper_write_state',
  );
  const state = row?.state;
  if (!state) return batch.map(() => ({ error: new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${accountId}`) }));

  const now = new Date(state.now);
  const lastSeq = BigInt(state.last_seq);
  const ledger = new AccountLedger(
    { id: accountId, balance: BigInt(state.balance), outstanding: BigInt(state.outstanding), lastSeq, now },
    state.buckets.map(toBucketState),
    state.last_entry && {
      type: state.last_entry.type,
      category: state.last_entry.category,
      sourceKind: state.last_entry.source_kind,
      sourceId: state.last_entry.source_id,
      groupSeq: BigInt(state.last_entry.group_seq),
      groupStartedAt: new Date(state.last_entry.group_started_at),
    },
    groupWindowMs,
  );
  ledger.sweepExpired();

  const staged: ({ replay: true } | { error: unknown } | { entries: StagedEntry[]; balance: bigint; outstanding: bigint })[] = [];
  for (const { spec, requestHash } of batch) {
    const previous = state.replay_hashes[spec.idempotencyKey];
    if (previous !== undefined) {
      staged.push(
        previous === requestHash
          ? { replay: true }
          : {
              error: new CreditkeeperError('IDEMPOTENCY_CONFLICT', `Idempotency key ${spec.idempotencyKey} was already used for a different request`, {
                idempotencyKey: spec.idempotencyKey,
              }),
            },
      );
      continue;
    }
    const mark = ledger.begin(spec.idempotencyKey, requestHash);
    try {
      await spec.write(ledger, session);
      ledger.settleOutstanding();
      if (spec.request.actor.kind === 'STAFF') ledger.audit(spec.operation, spec.request.actor, spec.request.origin, mark);
      staged.push({ entries: ledger.entriesSince(mark), ...ledger.state });
    } catch (error) {
      ledger.rollback(mark);
      staged.push({ error });
    }
  }

  // Nothing succeeded: write nothing, not even the sweep (the next write will make it).
  if (staged.some((s) => 'entries' in s)) {
    const [flushed] = await session.query<{ written: number }>(
      flushStatement,
      [JSON.stringify({ ...ledger.toFlush(), expected_seq: lastSeq.toString() })],
      'creditkeeper_flush',
    );
    if (flushed!.written === 0) return 'conflict';
  }
  const outcomes: Outcome[] = [];
  for (const [i, s] of staged.entries()) {
    if ('replay' in s) outcomes.push({ result: await replay(session, accountId, batch[i]!.spec.idempotencyKey) });
    else if ('error' in s) outcomes.push({ error: s.error });
    else {
      outcomes.push({
        result: {
          entries: s.entries.map((e) => toEntryView({ ...e, accountId, createdAt: now })),
          balance: s.balance,
          outstanding: s.outstanding,
          replayed: false,
        },
      });
    }
  }
  return outcomes;
}

interface AccountState {
  balance: string;
  outstanding: string;
  last_seq: string;
  now: string;
  replay_hashes: Record<string, string>;
  buckets: RawBucket[];
  last_entry: {
    type: EntryType;
    category: string | null;
    source_kind: string | null;
    source_id: string | null;
    group_seq: string;
    group_started_at: string;
  } | null;
}

async function replay(session: SqlSession, accountId: string, key: string): Promise<WriteResult> {
  // The operation's own entry and those it derived keys for (`<key>#…`), all written by the same
  // statement and so stamped with the same time: found by that time, whatever the collation.
  const rows = await session.query<EntryRow>(
    `SELECT ${entryColumns} FROM entries e
     WHERE e.account_id = $1::uuid
       AND e.created_at = (SELECT o.created_at FROM entries o WHERE o.account_id = $1::uuid AND o.idempotency_key = $2)
       AND (e.idempotency_key = $2 OR starts_with(e.idempotency_key, $2 || '#'))
     ORDER BY e.seq`,
    [accountId, key],
  );
  const entries = rows.map((r) => toEntryView(r));
  const last = entries.at(-1)!;
  return { entries, balance: last.balanceAfter, outstanding: last.outstandingAfter, replayed: true };
}

/** What makes two requests "the same" for a retry: the operation and its input, where it came from aside. */
export function requestHashOf(operation: string, request: LedgerWriteSpec['request']): string {
  const { origin: _origin, ...sameness } = request;
  return hashRequest(operation, sameness);
}

export function hashRequest(operation: string, request: unknown): string {
  const canonical = JSON.stringify({ operation, request }, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Date) return value.toISOString();
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return value;
  });
  return createHash('sha256').update(canonical).digest('hex');
}

interface RawBucket {
  id: string;
  kind: BucketKind;
  granted: string;
  remaining: string;
  priority: number;
  expires_at: string | null;
  created_at: string;
}

export function toBucketState(raw: RawBucket): BucketState {
  return {
    id: raw.id,
    kind: raw.kind,
    granted: BigInt(raw.granted),
    remaining: BigInt(raw.remaining),
    priority: raw.priority,
    expiresAt: raw.expires_at === null ? null : new Date(raw.expires_at),
    createdAt: new Date(raw.created_at),
    isNew: false,
    changed: false,
  };
}

/**
 * Every change of one write, from one JSON document, in one statement. `account` moves the
 * account only if its sequence is still the one the write started from; every other part joins
 * `account`, so when it does not move, nothing does, and `written` is 0.
 */
const flushStatement = `
WITH input AS (SELECT $1::jsonb AS doc),
account AS (
  UPDATE accounts SET balance = (doc->'account'->>'balance')::bigint,
    outstanding = (doc->'account'->>'outstanding')::bigint, last_seq = (doc->'account'->>'last_seq')::bigint
  FROM input
  WHERE accounts.id = (doc->'account'->>'id')::uuid AND accounts.last_seq = (doc->>'expected_seq')::bigint
  RETURNING accounts.id
),
new_buckets AS (
  INSERT INTO buckets (id, account_id, kind, granted, remaining, priority, expires_at, created_at)
  SELECT b.id, account.id, b.kind::"BucketKind", b.granted, b.remaining, b.priority, b.expires_at, (doc->>'now')::timestamptz
  FROM account, input, jsonb_to_recordset(doc->'new_buckets')
    AS b(id uuid, kind text, granted bigint, remaining bigint, priority int, expires_at timestamptz)
),
bucket_updates AS (
  UPDATE buckets SET remaining = u.remaining
  FROM account, input, jsonb_to_recordset(doc->'bucket_updates') AS u(id uuid, remaining bigint)
  WHERE buckets.account_id = account.id AND buckets.id = u.id
),
new_entries AS (
  INSERT INTO entries (id, account_id, seq, type, category, action, quantity, description, amount, balance_after, outstanding_after,
    original_amount, discount_percent, source_kind, source_id, source_label, source_url, actor_kind, actor_id, note,
    idempotency_key, request_hash, corrects_id, group_seq, created_at)
  SELECT e.id, account.id, e.seq, e.type::"EntryType", e.category, e.action, e.quantity, e.description, e.amount,
    e.balance_after, e.outstanding_after, e.original_amount, e.discount_percent, e.source_kind, e.source_id,
    e.source_label, e.source_url, e.actor_kind::"ActorKind", e.actor_id, e.note, e.idempotency_key, e.request_hash,
    e.corrects_id, e.group_seq, (doc->>'now')::timestamptz
  FROM account, input, jsonb_to_recordset(doc->'entries') AS e(id uuid, seq bigint, type text, category text,
    action text, quantity int, description text, amount bigint, balance_after bigint, outstanding_after bigint, original_amount bigint,
    discount_percent int, source_kind text, source_id text, source_label text, source_url text, actor_kind text,
    actor_id text, note text, idempotency_key text, request_hash text, corrects_id uuid, group_seq bigint)
),
new_movements AS (
  INSERT INTO movements (entry_id, bucket_id, amount)
  SELECT m.entry_id, m.bucket_id, m.amount
  FROM account, input, jsonb_to_recordset(doc->'movements') AS m(entry_id uuid, bucket_id uuid, amount bigint)
),
new_deposits AS (
  INSERT INTO deposits (id, account_id, entry_id, charged, held, action, created_at)
  SELECT d.id, account.id, d.entry_id, d.charged, d.held, d.action, (doc->>'now')::timestamptz
  FROM account, input, jsonb_to_recordset(doc->'new_deposits')
    AS d(id uuid, entry_id uuid, charged bigint, held bigint, action text)
),
settled_deposits AS (
  UPDATE deposits SET status = s.status::"DepositStatus", settled_entry_id = s.settled_entry_id,
    actual_amount = s.actual_amount, settled_at = (doc->>'now')::timestamptz
  FROM account, input, jsonb_to_recordset(doc->'settled_deposits')
    AS s(id uuid, status text, settled_entry_id uuid, actual_amount bigint)
  WHERE deposits.account_id = account.id AND deposits.id = s.id
),
audit AS (
  INSERT INTO audit_log (id, actor_kind, actor_id, action, outcome, account_id, entry_id, reason, origin, details, created_at)
  SELECT gen_random_uuid(), a.actor_kind::"ActorKind", a.actor_id, a.action, 'done', account.id, a.entry_id, a.reason,
    a.origin, a.details, (doc->>'now')::timestamptz
  FROM account, input, jsonb_to_recordset(doc->'audit')
    AS a(actor_kind text, actor_id text, action text, entry_id uuid, reason text, origin jsonb, details jsonb)
),
rollup AS (
  INSERT INTO usage_rollups (account_id, period_start, used, added, usage_count)
  SELECT account.id, date_bin('15 minutes', (doc->>'now')::timestamptz, '2000-01-01T00:00:00Z'),
    (doc->'rollup'->>'used')::bigint,
    (doc->'rollup'->>'added')::bigint, (doc->'rollup'->>'usage_count')::int
  FROM account, input WHERE jsonb_array_length(doc->'entries') > 0
  ON CONFLICT (account_id, period_start) DO UPDATE SET used = usage_rollups.used + EXCLUDED.used,
    added = usage_rollups.added + EXCLUDED.added, usage_count = usage_rollups.usage_count + EXCLUDED.usage_count
)
SELECT count(*)::int AS written FROM account`;
