import type { Reach } from '../access/accountReach.js';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { uuid } from '../input.js';

/** An endpoint as listed: never its secret. */
export interface WebhookEndpointView {
  id: string;
  organisationId: string | null;
  url: string;
  eventTypes: string[];
  enabled: boolean;
  failingSince: Date | null;
  createdBy: string;
  createdAt: Date;
}

export const endpointColumns = `id, organisation_id AS "organisationId", url, event_types AS "eventTypes", enabled,
  failing_since AS "failingSince", created_by AS "createdBy", created_at AS "createdAt"`;

/**
 * The endpoint, if the credential may manage it: an organisation-limited one only its own
 * organisation's, never a global one. Out of reach looks exactly like not found.
 */
export async function endpointInReach(ctx: CoreContext, reach: Reach, endpointId: string): Promise<WebhookEndpointView> {
  const [row] = uuid.safeParse(endpointId).success
    ? await ctx.db.sql.query<WebhookEndpointView & Record<string, unknown>>(
        `SELECT ${endpointColumns} FROM webhook_endpoints WHERE id = $1::uuid AND ($2::uuid IS NULL OR organisation_id = $2::uuid)`,
        [endpointId, reach.organisationId],
      )
    : [];
  if (!row) throw new CreditkeeperError('WEBHOOK_ENDPOINT_NOT_FOUND', `No webhook endpoint ${endpointId}`);
  return row;
}
