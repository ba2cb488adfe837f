import { createHash } from 'node:crypto';
import type { Database } from '../db/database.js';
import type { BucketKind } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { AccountLedger, type BucketState } from './accountLedger.js';
import { type EntryRow, type EntryView, entryColumns, toEntryView } from './entryView.js';

export type Tx = Parameters<Parameters<Database['prisma']['$transaction']>[0]>[0];

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
  /** The operation's name and validated input: what "the same request" means for a retry. */
  operation: string;
  request: unknown;
  /** Stages the operation's entries on the ledger; throwing writes nothing. */
  write: (ledger: AccountLedger, tx: Tx) => Promise<void> | void;
}

// Generous waits: under heavy contention on one account, writers queue on its row lock.
const transactionOptions = { maxWait: 20_000, timeout: 30_000 };

/**
 * The one way credits move: lock the account, answer retries from the first attempt, sweep
 * expired credits, stage the operation, settle what is owed, and write it all in one statement,
 * inside one transaction.
 */
export async function ledgerWrite(db: Database, spec: LedgerWriteSpec): Promise<WriteResult> {
  const requestHash = hashRequest(spec.operation, spec.request);
  return db.prisma.$transaction(async (tx) => {
    const [account] = await tx.$queryRawUnsafe<
      { id: string; balance: bigint; outstanding: bigint; last_seq: bigint; now: Date }[]
    >(
      `SELECT id, balance, outstanding, last_seq, date_trunc('milliseconds', now()) AS now
       FROM accounts WHERE id = $1::uuid FOR UPDATE`,
      spec.accountId,
    );
    if (!account) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${spec.accountId}`);

    // A fresh statement after the lock: it sees everything committed by writers we waited for.
    const [state] = await tx.$queryRawUnsafe<{ replay_hash: string | null; buckets: RawBucket[] }[]>(
      `SELECT
         (SELECT request_hash FROM entries WHERE account_id = $1::uuid AND idempotency_key = $2) AS replay_hash,
         (SELECT coalesce(json_agg(b), '[]'::json) FROM (
            SELECT id, kind, granted::text, remaining::text, priority, expires_at, created_at
            FROM buckets WHERE account_id = $1::uuid AND remaining > 0) b) AS buckets`,
      spec.accountId,
      spec.idempotencyKey,
    );
    if (state!.replay_hash !== null) {
      if (state!.replay_hash !== requestHash) {
        throw new CreditkeeperError(
          'IDEMPOTENCY_CONFLICT',
          `Idempotency key ${spec.idempotencyKey} was already used for a different request`,
          { idempotencyKey: spec.idempotencyKey },
        );
      }
      return replay(tx, spec.accountId, spec.idempotencyKey);
    }

    const ledger = new AccountLedger(
      { id: account.id, balance: account.balance, outstanding: account.outstanding, lastSeq: account.last_seq, now: account.now },
      state!.buckets.map(toBucketState),
      spec.idempotencyKey,
      requestHash,
    );
    ledger.sweepExpired();
    const firstOwn = ledger.entries.length;
    await spec.write(ledger, tx);
    ledger.settleOutstanding();
    await tx.$executeRawUnsafe(flushStatement, JSON.stringify(ledger.toFlush()));

    return {
      entries: ledger.entries.slice(firstOwn).map((e) => toEntryView({ ...e, accountId: account.id, createdAt: account.now })),
      ...ledger.state,
      replayed: false,
    };
  }, transactionOptions);
}

async function replay(tx: Tx, accountId: string, key: string): Promise<WriteResult> {
  const rows = await tx.$queryRawUnsafe<EntryRow[]>(
    `SELECT ${entryColumns} FROM entries e
     WHERE e.account_id = $1::uuid AND e.idempotency_key = ANY($2::text[]) ORDER BY e.seq`,
    accountId,
    [key, `${key}#settle`],
  );
  const entries = rows.map((r) => toEntryView(r));
  const last = entries.at(-1)!;
  return { entries, balance: last.balanceAfter, outstanding: last.outstandingAfter, replayed: true };
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

/** Every change of one write, from one JSON document, in one round trip. */
const flushStatement = `
WITH input AS (SELECT $1::jsonb AS doc),
new_buckets AS (
  INSERT INTO buckets (id, account_id, kind, granted, remaining, priority, expires_at, created_at)
  SELECT b.id, (doc->'account'->>'id')::uuid, b.kind::"BucketKind", b.granted, b.remaining, b.priority, b.expires_at, (doc->>'now')::timestamptz
  FROM input, jsonb_to_recordset(doc->'new_buckets')
    AS b(id uuid, kind text, granted bigint, remaining bigint, priority int, expires_at timestamptz)
),
bucket_updates AS (
  UPDATE buckets SET remaining = u.remaining
  FROM input, jsonb_to_recordset(doc->'bucket_updates') AS u(id uuid, remaining bigint)
  WHERE buckets.id = u.id
),
new_entries AS (
  INSERT INTO entries (id, account_id, seq, type, category, description, amount, balance_after, outstanding_after,
    original_amount, discount_percent, source_kind, source_id, source_label, source_url, actor_kind, actor_id, note,
    idempotency_key, request_hash, corrects_id, created_at)
  SELECT e.id, (doc->'account'->>'id')::uuid, e.seq, e.type::"EntryType", e.category, e.description, e.amount,
    e.balance_after, e.outstanding_after, e.original_amount, e.discount_percent, e.source_kind, e.source_id,
    e.source_label, e.source_url, e.actor_kind::"ActorKind", e.actor_id, e.note, e.idempotency_key, e.request_hash,
    e.corrects_id, (doc->>'now')::timestamptz
  FROM input, jsonb_to_recordset(doc->'entries') AS e(id uuid, seq bigint, type text, category text, description text,
    amount bigint, balance_after bigint, outstanding_after bigint, original_amount bigint, discount_percent int,
    source_kind text, source_id text, source_label text, source_url text, actor_kind text, actor_id text, note text,
    idempotency_key text, request_hash text, corrects_id uuid)
),
new_movements AS (
  INSERT INTO movements (entry_id, bucket_id, amount)
  SELECT m.entry_id, m.bucket_id, m.amount
  FROM input, jsonb_to_recordset(doc->'movements') AS m(entry_id uuid, bucket_id uuid, amount bigint)
),
new_deposits AS (
  INSERT INTO deposits (id, account_id, entry_id, charged, held, action, created_at)
  SELECT d.id, (doc->'account'->>'id')::uuid, d.entry_id, d.charged, d.held, d.action, (doc->>'now')::timestamptz
  FROM input, jsonb_to_recordset(doc->'new_deposits')
    AS d(id uuid, entry_id uuid, charged bigint, held bigint, action text)
),
settled_deposits AS (
  UPDATE deposits SET status = s.status::"DepositStatus", settled_entry_id = s.settled_entry_id,
    actual_amount = s.actual_amount, settled_at = (doc->>'now')::timestamptz
  FROM input, jsonb_to_recordset(doc->'settled_deposits')
    AS s(id uuid, status text, settled_entry_id uuid, actual_amount bigint)
  WHERE deposits.id = s.id
),
rollup AS (
  INSERT INTO usage_rollups (account_id, hour, used, added, usage_count)
  SELECT (doc->'account'->>'id')::uuid, date_trunc('hour', (doc->>'now')::timestamptz, 'UTC'), (doc->'rollup'->>'used')::bigint,
    (doc->'rollup'->>'added')::bigint, (doc->'rollup'->>'usage_count')::int
  FROM input WHERE jsonb_array_length(doc->'entries') > 0
  ON CONFLICT (account_id, hour) DO UPDATE SET used = usage_rollups.used + EXCLUDED.used,
    added = usage_rollups.added + EXCLUDED.added, usage_count = usage_rollups.usage_count + EXCLUDED.usage_count
)
UPDATE accounts SET balance = (doc->'account'->>'balance')::bigint,
  outstanding = (doc->'account'->>'outstanding')::bigint, last_seq = (doc->'account'->>'last_seq')::bigint
FROM input WHERE accounts.id = (doc->'account'->>'id')::uuid`;
