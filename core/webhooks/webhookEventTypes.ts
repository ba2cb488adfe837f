import { z } from 'zod';

/** What an endpoint can ask to hear. The triggers of prisma/migrations/20261220000000_webhooks write them. */
export const webhookEventTypes = [
  'entry.created',
  'balance.low',
  'balance.depleted',
  'credits.expiring',
  'deposit.outstanding',
  'subscription.renewed',
  'auto_reload.charge_unknown',
] as const;

export const webhookEventType = z.enum(webhookEventTypes);
export type WebhookEventType = z.infer<typeof webhookEventType>;
