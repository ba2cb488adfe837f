import { z } from 'zod';
import { ensureActorMay } from '../access/memberPermission.js';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { actor, note, origin, parseInput, reasonRequired, staffGivesReason, uuid } from '../input.js';
import { auditStepSql, type ScheduledRow, scheduledColumns, type ScheduledWriteView, toView } from './scheduledWrites.js';

export const cancelScheduledWriteInput = z
  .strictObject({
    accountId: uuid,
    scheduledId: uuid,
    actor,
    origin: origin.optional(),
    reason: note.optional(),
  })
  .refine(staffGivesReason, reasonRequired);

/**
 * Calls off a dated write before it is due (audited in the cancelling statement); once due by the database's
 * clock, the one the landing reads, it is ALREADY_LANDED: void the grant instead.
 */
export async function cancelScheduledWrite(ctx: CoreContext, input: z.input<typeof cancelScheduledWriteInput>): Promise<ScheduledWriteView> {
  const request = parseInput(cancelScheduledWriteInput, input);
  const [found] = await ctx.db.sql.query<{ operation: 'grant' | 'purchase' }>(
    'SELECT operation FROM scheduled_writes WHERE id = $1::uuid AND account_id = $2::uuid',
    [request.scheduledId, request.accountId],
  );
  if (!found) throw new CreditkeeperError('SCHEDULE_NOT_FOUND', `No scheduled grant or purchase ${request.scheduledId} on this account`, { scheduledId: request.scheduledId });
  await ensureActorMay(ctx, request, found.operation);
  const [cancelled] = await ctx.db.sql.query<ScheduledRow>(
    `WITH changed AS (
       UPDATE scheduled_writes SET cancelled_at = clock_timestamp(), cancelled_by = $3::jsonb, cancel_reason = $4
       WHERE id = $1::uuid AND account_id = $2::uuid AND cancelled_at IS NULL AND landed_at IS NULL AND failure IS NULL
         AND effective_at > clock_timestamp()
       RETURNING *),
     audited AS (${auditStepSql('cancelled', '$3::jsonb', '$5::jsonb', '$4')})
     SELECT ${scheduledColumns} FROM changed`,
    [request.scheduledId, request.accountId, JSON.stringify(request.actor), request.reason ?? null, request.origin ? JSON.stringify(request.origin) : null],
  );
  if (cancelled) return toView(cancelled);
  const [now] = await ctx.db.sql.query<ScheduledRow>(`SELECT ${scheduledColumns} FROM scheduled_writes WHERE id = $1::uuid AND account_id = $2::uuid`, [
    request.scheduledId,
    request.accountId,
  ]);
  const state = toView(now!);
  if (state.status === 'cancelled') throw new CreditkeeperError('ALREADY_CANCELLED', 'It was already cancelled', { scheduledId: state.id });
  const what = state.status === 'landed' ? `it landed as entry ${state.landedEntryId}` : state.status === 'failed' ? `it could not land (${state.failure})` : 'it is landing now';
  throw new CreditkeeperError('ALREADY_LANDED', `Too late to cancel: it was due, and ${what}`, { scheduledId: state.id, landedEntryId: state.landedEntryId });
}
