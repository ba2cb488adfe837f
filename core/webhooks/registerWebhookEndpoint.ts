import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ensureOrganisationInReach, organisationIdOf, type Reach } from '../access/accountReach.js';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput } from '../input.js';
import { endpointColumns, type WebhookEndpointView } from './webhookEndpointView.js';
import { parseWebhookUrl, resolveWebhookAddress } from './webhookAddress.js';
import { webhookEventType } from './webhookEventTypes.js';
import type { WebhookSettings } from './webhookSettings.js';

export const registerWebhookEndpointInput = z.strictObject({
  url: z.string().min(1).max(2_000),
  eventTypes: z.array(webhookEventType).min(1).transform((types) => [...new Set(types)]),
  /** The organisation whose accounts' events it hears; absent: every account's (an unrestricted credential only). */
  organisationExternalId: z.string().min(1).max(200).optional(),
  /** Who registers it (the token's name), for the list. */
  createdBy: z.string().min(1).max(200),
});

/**
 * Registers an endpoint and returns its signing secret, the only time it is shown. The URL must
 * resolve to a public address now (and is checked again before every attempt).
 */
export async function registerWebhookEndpoint(
  ctx: CoreContext,
  input: z.input<typeof registerWebhookEndpointInput>,
  reach: Reach,
  settings: WebhookSettings,
): Promise<WebhookEndpointView & { secret: string }> {
  const request = parseInput(registerWebhookEndpointInput, input);
  if (request.organisationExternalId === undefined && reach.organisationId) {
    throw new CreditkeeperError('FORBIDDEN', 'A global webhook endpoint needs a credential not limited to an organisation');
  }
  if (request.organisationExternalId !== undefined) await ensureOrganisationInReach(ctx, reach, request.organisationExternalId);
  const organisationId = request.organisationExternalId === undefined ? null : await organisationIdOf(ctx, request.organisationExternalId);
  const url = parseWebhookUrl(request.url);
  await resolveWebhookAddress(url, settings.allowedNetworks);
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const [row] = await ctx.db.sql.query<WebhookEndpointView & Record<string, unknown>>(
    `INSERT INTO webhook_endpoints (organisation_id, url, event_types, secret, created_by) VALUES ($1::uuid, $2, $3::text[], $4, $5)
     RETURNING ${endpointColumns}`,
    [organisationId, url.href, request.eventTypes, secret, request.createdBy],
  );
  return { ...row!, secret };
}
