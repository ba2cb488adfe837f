import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

/** How webhooks are delivered, from the environment (core/config.ts keeps the rest of the process's settings). */
const cidr = z.string().trim().refine((text) => {
  const [address, bits, ...rest] = text.split('/');
  const family = isIP(address ?? '');
  const prefix = Number(bits);
  return rest.length === 0 && family !== 0 && Number.isInteger(prefix) && prefix >= 0 && prefix <= (family === 4 ? 32 : 128);
}, 'must be a network such as 127.0.0.0/8 or ::1/128');

const webhookSettingsSchema = z.object({
  /** Networks a webhook URL may point into although they are private (loopback in tests, an internal receiver). */
  WEBHOOK_ALLOWED_NETWORKS: z
    .string()
    .default('')
    .transform((text) => text.split(',').filter((part) => part.trim() !== ''))
    .pipe(z.array(cidr)),
  /** The first retry waits this long; each next one twice as long, up to WEBHOOK_RETRY_MAX_MS. */
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(1).max(86_400_000).default(30_000),
  WEBHOOK_RETRY_MAX_MS: z.coerce.number().int().min(1).max(86_400_000).default(3_600_000),
  /** An endpoint whose every attempt has failed for this long is disabled (its deliveries wait for it). */
  WEBHOOK_FAILING_AFTER_DAYS: z.coerce.number().min(0).max(365).default(5),
  /** Each attempt: no more than this long, and no more than this much of the answer is read. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  WEBHOOK_MAX_RESPONSE_BYTES: z.coerce.number().int().min(0).max(1_048_576).default(65_536),
  /** A claimed attempt not finished in this long (its process died) is claimed again: longer than the timeout. */
  WEBHOOK_LEASE_MS: z.coerce.number().int().min(200).max(3_600_000).default(60_000),
  /** How often an idle dispatcher looks for due deliveries, and how many it sends at once. */
  WEBHOOK_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  /** credits.expiring: a bucket with credits left that expires within this many hours, once per bucket. */
  WEBHOOK_EXPIRING_WITHIN_HOURS: z.coerce.number().min(1).max(8_760).default(72),
  /** How often a process looks for those buckets. */
  WEBHOOK_EXPIRING_EVERY_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(300_000),
  /** Off switch for a process that should not deliver (several can: they share the work). */
  WEBHOOK_DISPATCHER: z.enum(['on', 'off']).default('on'),
});

export type WebhookSettings = Omit<z.infer<typeof webhookSettingsSchema>, 'WEBHOOK_ALLOWED_NETWORKS'> & {
  /** The allowed private networks, ready to check addresses against. */
  allowedNetworks: BlockList;
};

export function webhookSettings(env: NodeJS.ProcessEnv = process.env): WebhookSettings {
  const parsed = webhookSettingsSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([name, v]) => name.startsWith('WEBHOOK_') && v !== '')));
  if (!parsed.success) {
    throw new Error(`Invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const { WEBHOOK_ALLOWED_NETWORKS, ...rest } = parsed.data;
  // A lease that could end while its attempt is still running would let a second claim send the same event alongside it.
  if (rest.WEBHOOK_LEASE_MS <= rest.WEBHOOK_TIMEOUT_MS + 1_000) {
    throw new Error('Invalid configuration: WEBHOOK_LEASE_MS must exceed WEBHOOK_TIMEOUT_MS by more than a second');
  }
  const allowedNetworks = new BlockList();
  for (const network of WEBHOOK_ALLOWED_NETWORKS) {
    const [address, bits] = network.split('/') as [string, string];
    allowedNetworks.addSubnet(address, Number(bits), isIP(address) === 4 ? 'ipv4' : 'ipv6');
  }
  return { ...rest, allowedNetworks };
}
