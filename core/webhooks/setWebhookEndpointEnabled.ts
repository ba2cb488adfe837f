import { z } from 'zod';
import type { Reach } from '../access/accountReach.js';
import type { CoreContext } from '../context.js';
import { parseInput } from '../input.js';
import { endpointColumns, endpointInReach, type WebhookEndpointView } from './webhookEndpointView.js';

export const setWebhookEndpointEnabledInput = z.strictObject({ endpointId: z.string(), enabled: z.boolean() });

/**
 * Turns an endpoint on or off. Off: no new events are queued for it and its queued deliveries
 * wait; on again: they go, in order, and it is no longer failing.
 */
export async function setWebhookEndpointEnabled(
  ctx: CoreContext,
  input: z.input<typeof setWebhookEndpointEnabledInput>,
  reach: Reach,
): Promise<WebhookEndpointView> {
  const request = parseInput(setWebhookEndpointEnabledInput, input);
  await endpointInReach(ctx, reach, request.endpointId);
  const [row] = await ctx.db.sql.query<WebhookEndpointView & Record<string, unknown>>(
    `UPDATE webhook_endpoints SET enabled = $2, failing_since = CASE WHEN $2 THEN NULL ELSE failing_since END
     WHERE id = $1::uuid RETURNING ${endpointColumns}`,
    [request.endpointId, request.enabled],
  );
  return row!;
}
