import type { CoreContext } from '../context.js';
import type { WebhookSettings } from './webhookSettings.js';

/**
 * Queues credits.expiring once per bucket (its once_key), however often or in how many processes it runs;
 * returns how many buckets it looked at.
 */
export async function queueExpiringCredits(ctx: CoreContext, settings: Pick<WebhookSettings, 'WEBHOOK_EXPIRING_WITHIN_HOURS'>): Promise<number> {
  const [row] = await ctx.db.sql.query<{ buckets: number }>(
    `WITH wanted AS (
       SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled AND 'credits.expiring' = ANY(event_types)) AS any
     ), expiring AS (
       SELECT b.id, b.account_id, coalesce(a.organisation_id, c.organisation_id) AS organisation_id, b.kind, b.remaining, b.expires_at
       FROM wanted, buckets b JOIN accounts a ON a.id = b.account_id LEFT JOIN clients c ON c.id = a.client_id
       WHERE wanted.any AND b.remaining > 0 AND b.expires_at > clock_timestamp()
         AND b.expires_at <= clock_timestamp() + $1::float8 * interval '1 hour'
         AND NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.account_id = b.account_id AND e.once_key = 'credits.expiring:' || b.id)
       ORDER BY b.expires_at, b.id
     ), queued AS (
       SELECT creditkeeper_queue_webhook_events(coalesce(jsonb_agg(jsonb_build_object(
         'account_id', x.account_id, 'organisation_id', x.organisation_id, 'type', 'credits.expiring', 'once_key', 'credits.expiring:' || x.id,
         'payload', jsonb_build_object('accountId', x.account_id, 'bucketId', x.id, 'kind', x.kind, 'remaining', x.remaining::text, 'expiresAt', x.expires_at))
         ORDER BY x.account_id, x.expires_at), '[]')) FROM expiring x
     )
     SELECT (SELECT count(*)::int FROM expiring) AS buckets FROM queued`,
    [settings.WEBHOOK_EXPIRING_WITHIN_HOURS],
  );
  return row?.buckets ?? 0;
}
