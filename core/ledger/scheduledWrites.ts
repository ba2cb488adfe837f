import type { CoreContext } from '../context.js';
import type { BucketKind } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { jsonSafe } from '../idempotency/respondOnce.js';
import type { Actor, Origin } from '../input.js';
import { requestHashOf } from './writeSpec.js';

/** An actor as replies show it (no id is null). */
type ActorView = { kind: Actor['kind']; id: string | null };
const actorView = (a: Actor): ActorView => ({ kind: a.kind, id: a.id ?? null });

/** A grant or purchase dated in the future, as its caller sees it. */
export interface ScheduledWriteView {
  id: string;
  operation: 'grant' | 'purchase';
  /** pending until due; then landed (or failed); cancelled if called off before. */
  status: 'pending' | 'landed' | 'failed' | 'cancelled';
  amount: bigint;
  /** The bucket it lands in: a grant's own, PURCHASED for a purchase (what writePurchase adds). */
  bucket: BucketKind;
  effectiveAt: Date;
  expiresAt: Date | null;
  reason: string | null;
  /** Who scheduled it: the landed entry is theirs. */
  scheduledBy: ActorView;
  createdAt: Date;
  /** Set once it has landed: the entry it wrote. */
  landedEntryId: string | null;
  landedAt: Date | null;
  /** Why it could not land (it is not tried again). */
  failure: string | null;
  cancelledAt: Date | null;
  cancelledBy: ActorView | null;
  cancelReason: string | null;
}

export interface ScheduleResult {
  scheduled: ScheduledWriteView;
  /** True when this is a retry answered from the first request's schedule. */
  replayed: boolean;
}

export interface ScheduledRow {
  id: string;
  account_id: string;
  operation: 'grant' | 'purchase';
  request_hash: string;
  effective_at: Date | string;
  landed_entry_id: string | null;
  landed_at: Date | string | null;
  failure: string | null;
  created_at: Date | string;
  cancelled_at: Date | string | null;
  cancelled_by: Actor | null;
  cancel_reason: string | null;
  amount: string;
  bucket: string | null;
  expires_at: string | null;
  reason: string | null;
  scheduled_by: Actor;
}
/** A schedule's columns and what its request says (amount, bucket, expiry, who): from scheduled_writes or a CTE over it. */
export const scheduledColumns = `id, account_id, operation, request_hash, effective_at, landed_entry_id, landed_at, failure, created_at,
  cancelled_at, cancelled_by, cancel_reason, request->>'amount' AS amount, request->>'bucket' AS bucket,
  request->>'expiresAt' AS expires_at, request->>'reason' AS reason, request->'actor' AS scheduled_by`;

/**
 * A schedule step's audit row, inside the statement that takes the step (from its CTE `changed`), so a step
 * that does not happen records nothing. actor and origin are SQL jsonb expressions.
 */
export function auditStepSql(step: 'scheduled' | 'cancelled' | 'landed' | 'failed', actorSql: string, originSql: string, reasonSql = 'NULL'): string {
  return `INSERT INTO audit_log (actor_kind, actor_id, action, outcome, account_id, entry_id, reason, origin, details)
    SELECT (${actorSql}->>'kind')::"ActorKind", ${actorSql}->>'id', changed.operation || '.${step}', ${step === 'failed' ? 'changed.failure' : `'done'`},
      changed.account_id, changed.landed_entry_id, ${reasonSql}, ${originSql},
      jsonb_build_object('scheduledId', changed.id, 'effectiveAt', changed.effective_at, 'amount', changed.request->>'amount', 'scheduledBy', changed.request->'actor')
    FROM changed`;
}

/**
 * Keeps a validated write until `effectiveAt` (still ahead by the database's clock), audited in the same
 * statement; its key is the future entry's, so a retry gets the same schedule and another request a conflict.
 */
export async function scheduleWrite(
  ctx: CoreContext,
  operation: ScheduledWriteView['operation'],
  request: { accountId: string; idempotencyKey: string; actor: Actor; origin?: Origin | undefined; reason?: string | undefined },
  effectiveAt: Date,
): Promise<ScheduleResult> {
  const requestHash = requestHashOf(operation, request as Parameters<typeof requestHashOf>[1]);
  const [inserted] = await ctx.db.sql.query<ScheduledRow>(
    `WITH changed AS (
       INSERT INTO scheduled_writes (account_id, idempotency_key, operation, request, request_hash, effective_at)
       SELECT a.id, $2, $3, $4::jsonb, $5, $6::timestamptz FROM accounts a
       WHERE a.id = $1::uuid AND $6::timestamptz > clock_timestamp()
         AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.account_id = a.id AND e.idempotency_key = $2)
       ON CONFLICT (account_id, idempotency_key) DO NOTHING
       RETURNING *),
     audited AS (${auditStepSql('scheduled', `changed.request->'actor'`, `changed.request->'origin'`, `changed.request->>'reason'`)})
     SELECT ${scheduledColumns} FROM changed`,
    [request.accountId, request.idempotencyKey, operation, JSON.stringify(request, jsonSafe), requestHash, effectiveAt.toISOString()],
  );
  if (inserted) return { scheduled: toView(inserted), replayed: false };
  const [why] = await ctx.db.sql.query<{ account: boolean; entry: boolean; scheduled: ScheduledRow | null }>(
    `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1::uuid) AS account,
       EXISTS (SELECT 1 FROM entries WHERE account_id = $1::uuid AND idempotency_key = $2) AS entry,
       (SELECT to_jsonb(s) FROM (SELECT ${scheduledColumns} FROM scheduled_writes WHERE account_id = $1::uuid AND idempotency_key = $2) s) AS scheduled`,
    [request.accountId, request.idempotencyKey],
  );
  if (!why!.account) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${request.accountId}`);
  const previous = why!.scheduled;
  if (previous && previous.request_hash === requestHash) return { scheduled: toView(previous), replayed: true };
  if (previous || why!.entry) {
    throw new CreditkeeperError('IDEMPOTENCY_CONFLICT', `Idempotency key ${request.idempotencyKey} was already used for a different request`, { idempotencyKey: request.idempotencyKey });
  }
  throw new CreditkeeperError('VALIDATION_FAILED', 'effectiveAt must be in the future: a dated grant or purchase cannot land in the past', { path: 'effectiveAt' });
}

const dateOrNull = (value: Date | string | null) => (value === null ? null : new Date(value));

export function toView(row: ScheduledRow): ScheduledWriteView {
  return {
    id: row.id,
    operation: row.operation,
    status: row.cancelled_at ? 'cancelled' : row.landed_at ? 'landed' : row.failure ? 'failed' : 'pending',
    amount: BigInt(row.amount),
    bucket: (row.bucket ?? 'PURCHASED') as BucketKind,
    effectiveAt: new Date(row.effective_at),
    expiresAt: dateOrNull(row.expires_at),
    reason: row.reason,
    scheduledBy: actorView(row.scheduled_by),
    createdAt: new Date(row.created_at),
    landedEntryId: row.landed_entry_id,
    landedAt: dateOrNull(row.landed_at),
    failure: row.failure,
    cancelledAt: dateOrNull(row.cancelled_at),
    cancelledBy: row.cancelled_by && actorView(row.cancelled_by),
    cancelReason: row.cancel_reason,
  };
}
