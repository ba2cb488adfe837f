import type { Reach } from '../access/accountReach.js';
import type { CoreContext } from '../context.js';
import { endpointColumns, type WebhookEndpointView } from './webhookEndpointView.js';

/** The endpoints a credential manages: an organisation-limited one sees its organisation's only. */
export async function listWebhookEndpoints(ctx: CoreContext, reach: Reach): Promise<{ endpoints: WebhookEndpointView[] }> {
  const endpoints = await ctx.db.sql.query<WebhookEndpointView & Record<string, unknown>>(
    `SELECT ${endpointColumns} FROM webhook_endpoints WHERE $1::uuid IS NULL OR organisation_id = $1::uuid ORDER BY created_at, id`,
    [reach.organisationId],
  );
  return { endpoints };
}
