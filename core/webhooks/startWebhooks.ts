import type { CoreContext } from '../context.js';
import type { Logger } from '../logger.js';
import { startWebhookDispatcher } from './dispatchWebhooks.js';
import { queueExpiringCredits } from './queueExpiringCredits.js';
import { webhookSettings, type WebhookSettings } from './webhookSettings.js';

/**
 * The dispatcher and the credits.expiring job; every process may run both, as claims never overlap and each
 * bucket is queued once.
 */
export function startWebhooks(ctx: CoreContext, logger: Logger, settings: WebhookSettings = webhookSettings()): { stop(): Promise<void> } {
  if (settings.WEBHOOK_DISPATCHER === 'off') {
    logger.info('webhooks: WEBHOOK_DISPATCHER=off, this process delivers none');
    return { stop: async () => {} };
  }
  const dispatcher = startWebhookDispatcher(ctx, settings, (error) => logger.warn({ err: error }, 'webhooks: a dispatch round failed; it tries again'));
  let expiring: Promise<unknown> = Promise.resolve();
  const lookForExpiring = () =>
    (expiring = expiring.then(() => queueExpiringCredits(ctx, settings)).catch((error: unknown) => logger.warn({ err: error }, 'webhooks: credits.expiring run failed; the next one tries again')));
  void lookForExpiring();
  const timer = setInterval(lookForExpiring, settings.WEBHOOK_EXPIRING_EVERY_MS);
  timer.unref();
  logger.info({ concurrency: settings.WEBHOOK_CONCURRENCY }, 'webhooks: dispatcher running');
  return {
    stop: async () => {
      clearInterval(timer);
      await Promise.all([dispatcher.stop(), expiring]);
    },
  };
}
