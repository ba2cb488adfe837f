import { z } from 'zod';
import type { Reach } from '../access/accountReach.js';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput, uuid } from '../input.js';
import { endpointInReach } from './webhookEndpointView.js';

export const replayWebhookDeliveryInput = z.strictObject({ endpointId: z.string(), eventId: z.string() });

/**
 * Sends one event to its endpoint again, with the same webhook-id, as soon as the dispatcher gets
 * to it: it becomes due now, ahead of its account's later events to that endpoint.
 */
export async function replayWebhookDelivery(
  ctx: CoreContext,
  input: z.input<typeof replayWebhookDeliveryInput>,
  reach: Reach,
): Promise<{ eventId: string; status: 'PENDING' }> {
  const request = parseInput(replayWebhookDeliveryInput, input);
  await endpointInReach(ctx, reach, request.endpointId);
  const replayed = uuid.safeParse(request.eventId).success
    ? await ctx.db.sql.query(
        `UPDATE webhook_deliveries SET status = 'PENDING', next_attempt_at = clock_timestamp(), delivered_at = NULL
         WHERE endpoint_id = $1::uuid AND event_id = $2::uuid RETURNING event_id`,
        [request.endpointId, request.eventId],
      )
    : [];
  if (!replayed.length) throw new CreditkeeperError('WEBHOOK_DELIVERY_NOT_FOUND', `No delivery of event ${request.eventId} to this endpoint`);
  return { eventId: request.eventId, status: 'PENDING' };
}
