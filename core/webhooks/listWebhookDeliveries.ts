import { z } from 'zod';
import type { Reach } from '../access/accountReach.js';
import type { CoreContext } from '../context.js';
import { parseInput } from '../input.js';
import { endpointInReach } from './webhookEndpointView.js';

export const listWebhookDeliveriesInput = z.strictObject({
  endpointId: z.string(),
  status: z.enum(['PENDING', 'RETRYING', 'DELIVERED']).optional(),
  limit: z.number().int().min(1).max(200).default(50),
});

export interface WebhookDeliveryView {
  eventId: string;
  type: string;
  accountId: string;
  status: 'PENDING' | 'RETRYING' | 'DELIVERED';
  attempts: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

/** An endpoint's deliveries, newest event first: status, attempts, last answer. */
export async function listWebhookDeliveries(
  ctx: CoreContext,
  input: z.input<typeof listWebhookDeliveriesInput>,
  reach: Reach,
): Promise<{ deliveries: WebhookDeliveryView[] }> {
  const request = parseInput(listWebhookDeliveriesInput, input);
  await endpointInReach(ctx, reach, request.endpointId);
  const deliveries = await ctx.db.sql.query<WebhookDeliveryView & Record<string, unknown>>(
    `SELECT d.event_id AS "eventId", e.type, d.account_id AS "accountId", d.status, d.attempts,
            CASE WHEN d.status <> 'DELIVERED' THEN d.next_attempt_at END AS "nextAttemptAt", d.last_attempt_at AS "lastAttemptAt",
            d.last_status_code AS "lastStatusCode", d.last_error AS "lastError", d.delivered_at AS "deliveredAt", d.created_at AS "createdAt"
     FROM webhook_deliveries d JOIN webhook_events e ON e.account_id = d.account_id AND e.id = d.event_id
     WHERE d.endpoint_id = $1::uuid AND ($2::text IS NULL OR d.status = $2::"WebhookDeliveryStatus")
     ORDER BY d.event_seq DESC LIMIT $3`,
    [request.endpointId, request.status ?? null, request.limit],
  );
  return { deliveries };
}
