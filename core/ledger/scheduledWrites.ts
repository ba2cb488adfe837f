import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { jsonSafe } from '../idempotency/respondOnce.js';
import { requestHashOf } from './writeSpec.js';

/** A grant or purchase dated in the future, as its caller sees it. */
export interface ScheduledWriteView {
  id: string;
  operation: 'grant' | 'purchase';
  effectiveAt: Date;
  /** Set once it has landed: the entry it wrote. */
  landedEntryId: string | null;
  landedAt: Date | null;
  /** Why it could not land (it is not tried again). */
  failure: string | null;
}

export interface ScheduleResult {
  scheduled: ScheduledWriteView;
  /** True when this is a retry answered from the first request's schedule. */
  replayed: boolean;
}

interface ScheduledRow {
  id: string;
  operation: 'grant' | 'purchase';
  request_hash: string;
  effective_at: Date;
  landed_entry_id: string | null;
  landed_at: Date | null;
  failure: string | null;
}
const scheduledColumns = 'id, operation, request_hash, effective_at, landed_entry_id, landed_at, failure';

/**
 * Keeps a validated grant or purchase until `effectiveAt` (by the database's clock, which must
 * still be before it). Its idempotency key is the entry's to be: a retry with the same request
 * gets the same schedule, another request under the key is IDEMPOTENCY_CONFLICT.
 */
export async function scheduleWrite(
  ctx: CoreContext,
  operation: ScheduledWriteView['operation'],
  request: { accountId: string; idempotencyKey: string; actor: { kind: string } },
  effectiveAt: Date,
): Promise<ScheduleResult> {
  const requestHash = requestHashOf(operation, request as Parameters<typeof requestHashOf>[1]);
  const [inserted] = await ctx.db.sql.query<ScheduledRow>(
    `INSERT INTO scheduled_writes (account_id, idempotency_key, operation, request, request_hash, effective_at)
     SELECT a.id, $2, $3, $4::jsonb, $5, $6::timestamptz FROM accounts a
     WHERE a.id = $1::uuid AND $6::timestamptz > clock_timestamp()
       AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.account_id = a.id AND e.idempotency_key = $2)
     ON CONFLICT (account_id, idempotency_key) DO NOTHING
     RETURNING ${scheduledColumns}`,
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

export function toView(row: ScheduledRow): ScheduledWriteView {
  return {
    id: row.id,
    operation: row.operation,
    effectiveAt: new Date(row.effective_at),
    landedEntryId: row.landed_entry_id,
    landedAt: row.landed_at && new Date(row.landed_at),
    failure: row.failure,
  };
}
