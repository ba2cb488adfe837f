import type { CoreContext } from '../context.js';
import { sendWebhook, type AttemptOutcome, type WebhookMessage } from './sendWebhook.js';
import type { WebhookSettings } from './webhookSettings.js';

interface ClaimedDelivery extends Record<string, unknown> {
  endpoint_id: string;
  event_id: string;
  account_id: string;
  attempts: number;
  url: string;
  secret: string;
  type: string;
  payload: unknown;
  created_at: Date;
}

/**
 * Claims the oldest undelivered delivery per endpoint and account (in order), SKIP LOCKED across processes and
 * leased, so one whose process died is claimed again (same event, same webhook-id).
 */
async function claimDue(ctx: CoreContext, settings: WebhookSettings, limit: number): Promise<ClaimedDelivery[]> {
  return ctx.db.sql.query<ClaimedDelivery>(
    `WITH due AS (
       SELECT d.account_id, d.endpoint_id, d.event_id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
       WHERE d.status <> 'DELIVERED' AND d.next_attempt_at <= clock_timestamp() AND w.enabled
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                         WHERE p.endpoint_id = d.endpoint_id AND p.account_id = d.account_id AND p.event_seq < d.event_seq AND p.status <> 'DELIVERED')
       ORDER BY d.next_attempt_at LIMIT $1
       FOR UPDATE OF d SKIP LOCKED
     )
     UPDATE webhook_deliveries d
     SET attempts = d.attempts + 1, last_attempt_at = clock_timestamp(), next_attempt_at = clock_timestamp() + $2::int * interval '1 millisecond'
     FROM due, webhook_endpoints w, webhook_events e
     WHERE d.account_id = due.account_id AND d.endpoint_id = due.endpoint_id AND d.event_id = due.event_id AND w.id = d.endpoint_id
       AND e.account_id = d.account_id AND e.id = d.event_id
     RETURNING d.endpoint_id, d.event_id, d.account_id, d.attempts, w.url, w.secret, e.type, e.payload, e.created_at`,
    [limit, settings.WEBHOOK_LEASE_MS],
    'webhooks_claim',
  );
}

/** The wait before attempt n + 1 after n failed: base, twice that, four times… never more than the cap. */
export function retryDelayMs(failedAttempts: number, settings: Pick<WebhookSettings, 'WEBHOOK_RETRY_BASE_MS' | 'WEBHOOK_RETRY_MAX_MS'>): number {
  return Math.min(settings.WEBHOOK_RETRY_MAX_MS, settings.WEBHOOK_RETRY_BASE_MS * 2 ** Math.min(failedAttempts - 1, 40));
}

/**
 * Skipped when the lease ran out and another claim took over. Failures mark the endpoint failing and disable
 * it after WEBHOOK_FAILING_AFTER_DAYS; a success clears it.
 */
async function recordOutcome(ctx: CoreContext, settings: WebhookSettings, claimed: ClaimedDelivery, outcome: AttemptOutcome): Promise<void> {
  await ctx.db.sql.query(
    `WITH attempt AS (
       UPDATE webhook_deliveries
       SET status = CASE WHEN $4 THEN 'DELIVERED' ELSE 'RETRYING' END::"WebhookDeliveryStatus",
           delivered_at = CASE WHEN $4 THEN clock_timestamp() END,
           next_attempt_at = CASE WHEN $4 THEN next_attempt_at ELSE clock_timestamp() + $7::int * interval '1 millisecond' END,
           last_status_code = $5, last_error = $6
       WHERE account_id = $9::uuid AND endpoint_id = $1::uuid AND event_id = $2::uuid AND attempts = $3 AND status <> 'DELIVERED'
       RETURNING endpoint_id
     )
     UPDATE webhook_endpoints w
     SET failing_since = CASE WHEN $4 THEN NULL ELSE coalesce(w.failing_since, clock_timestamp()) END,
         enabled = w.enabled AND ($4 OR coalesce(w.failing_since, clock_timestamp()) > clock_timestamp() - $8::float8 * interval '1 day')
     FROM attempt WHERE w.id = attempt.endpoint_id AND (NOT $4 OR w.failing_since IS NOT NULL)`,
    [
      claimed.endpoint_id, claimed.event_id, claimed.attempts, outcome.delivered, outcome.statusCode,
      outcome.error?.slice(0, 500) ?? null, retryDelayMs(claimed.attempts, settings), settings.WEBHOOK_FAILING_AFTER_DAYS,
      claimed.account_id,
    ],
    'webhooks_record',
  );
}

/** One attempt of one claimed delivery, start to finish. */
async function attempt(ctx: CoreContext, settings: WebhookSettings, claimed: ClaimedDelivery): Promise<void> {
  const message: WebhookMessage = { id: claimed.event_id, type: claimed.type, occurredAt: new Date(claimed.created_at), data: claimed.payload };
  const outcome = await sendWebhook({ url: claimed.url, secret: claimed.secret }, message, settings);
  await recordOutcome(ctx, settings, claimed, outcome);
}

/** Delivers what is due now, up to `limit` at once; says how many it attempted. */
export async function deliverDueWebhooks(ctx: CoreContext, settings: WebhookSettings, limit = settings.WEBHOOK_CONCURRENCY): Promise<number> {
  const claimed = await claimDue(ctx, settings, limit);
  await Promise.all(claimed.map((delivery) => attempt(ctx, settings, delivery)));
  return claimed.length;
}

export interface WebhookDispatcher {
  /** Stops claiming; resolves when the attempts under way have been recorded. */
  stop(): Promise<void>;
}

/**
 * Keeps up to WEBHOOK_CONCURRENCY attempts going, each ended one claiming again, so a slow endpoint holds only
 * its own places; a database failure is reported and retried on the next poll.
 */
export function startWebhookDispatcher(ctx: CoreContext, settings: WebhookSettings, onError: (error: unknown) => void = () => {}): WebhookDispatcher {
  let running = true;
  let claiming: Promise<void> | null = null;
  let poll: NodeJS.Timeout | undefined;
  const underWay = new Set<Promise<void>>();
  const claimMore = async () => {
    while (running && underWay.size < settings.WEBHOOK_CONCURRENCY) {
      let claimed: ClaimedDelivery[] = [];
      try {
        claimed = await claimDue(ctx, settings, settings.WEBHOOK_CONCURRENCY - underWay.size);
      } catch (error) {
        onError(error);
      }
      if (!claimed.length) {
        clearTimeout(poll);
        poll = setTimeout(kick, settings.WEBHOOK_POLL_MS);
        return;
      }
      for (const delivery of claimed) {
        const attempting: Promise<void> = attempt(ctx, settings, delivery)
          .catch(onError)
          .finally(() => {
            underWay.delete(attempting);
            kick();
          });
        underWay.add(attempting);
      }
    }
  };
  function kick(): void {
    if (!running || claiming) return;
    claiming = claimMore().finally(() => (claiming = null));
  }
  kick();
  return {
    stop: async () => {
      running = false;
      clearTimeout(poll);
      await claiming;
      await Promise.all([...underWay]);
    },
  };
}
