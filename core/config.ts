import 'dotenv/config';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { DatabaseTarget } from './db/database.js';
import { defaultRewards } from './rewards/rewardSettings.js';

/** Process configuration, from the environment (and `.env` when present), validated once. */
const configSchema = z.object({
  DATABASE_URL: z.string().url().optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(10),
  /** A hot standby of DATABASE_URL that reports are read from when it has what they must show (README "Reads from a replica"). */
  DATABASE_READ_URL: z.string().url().optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  PRICE_LIST_FILE: z.string().min(1).optional(),
  /** Usage of one activity and source within this many minutes shows as one row. */
  USAGE_GROUP_WINDOW_MINUTES: z.coerce.number().min(0).max(1440).default(5),
  /** What one credit costs, e.g. "0.05 USD"; shown beside the balance when set. */
  COST_PER_CREDIT: z
    .string()
    .regex(/^\d+(\.\d+)? [A-Z]{3}$/, 'must look like "0.05 USD"')
    .transform((text) => {
      const [amount, currency] = text.split(' ') as [string, string];
      return { amount, currency };
    })
    .optional(),
  /** A JSON file of plans replacing the documented ones (Free 12 a week; Starter 150, Growth 325, Scale 575 a month). */
  PLANS_FILE: z.string().min(1).optional(),
  /** When the renewal job looks for due subscriptions (cron syntax); "off" runs none in this process. */
  RENEWAL_SCHEDULE: z.string().min(1).default('*/5 * * * *'),
  /** Linking Discord pays 5 credits, once. */
  LINK_REWARD_CREDITS: z.coerce.bigint().min(0n).max(1_000_000n).default(defaultRewards.discordLink),
  /** Credits per verified rewarded-ad view, and how many such rewards an account may get a day (UTC). */
  AD_REWARD_CREDITS: z.coerce.bigint().min(1n).max(1_000_000n).default(defaultRewards.ad),
  AD_REWARD_DAILY_CAP: z.coerce.number().int().min(0).max(10_000).default(defaultRewards.adDailyCap),
  /** The ad network's published verification keys (AdMob's by default). */
  AD_VERIFIER_KEYS_URL: z.string().url().default('https://www.gstatic.com/admob/reward/verifier-keys.json'),
  /** Auto-reload charges through this webhook (HMAC-signed with the secret); unset: auto-reload is off everywhere. */
  PAYMENT_WEBHOOK_URL: z.string().url().optional(),
  PAYMENT_WEBHOOK_SECRET: z.string().min(16).optional(),
  PAYMENT_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  /** API requests a second per token, on average (bursts of twice that). */
  RATE_LIMIT_PER_TOKEN: z.coerce.number().min(1).max(1_000_000).default(500),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
}).refine((config) => !config.DATABASE_READ_URL || config.DATABASE_URL, {
  path: ['DATABASE_READ_URL'],
  message: 'needs DATABASE_URL: the embedded database has no standby',
});

export type Config = z.infer<typeof configSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (DATABASE_URL= in .env) means "not set", as most tools read it.
  const parsed = configSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  return parsed.data;
}

export function databaseTarget(config: Config): DatabaseTarget {
  return config.DATABASE_URL
    ? { kind: 'postgres', url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE }
    : { kind: 'embedded', dataDir: resolve(config.DATA_DIR) };
}
