import 'dotenv/config';
import { z } from 'zod';

const optionalText = z.string().trim().min(1).optional();
const snowflake = z.string().regex(/^\d{17,20}$/, 'must be a Discord id (17–20 digits)');
/** Where a platform's API is, when not its public address: a proxy, or a test's own server. */
const apiUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional();
const idList = z
  .string()
  .optional()
  .transform((text) => (text ?? '').split(/[\s,]+/).filter(Boolean));

/**
 * Each transport runs when its credentials are present; a half-configured one fails at start-up rather than
 * becoming a bot that silently never answers.
 */
const chatConfigSchema = z
  .object({
    DISCORD_TOKEN: optionalText,
    DISCORD_APPLICATION_ID: snowflake.optional(),
    /** Development: commands registered to this one server appear at once (global ones can take a while). */
    DISCORD_GUILD_ID: snowflake.optional(),
    /** Members with this role are staff; so is anyone with Manage Server. */
    DISCORD_STAFF_ROLE_ID: snowflake.optional(),
    SLACK_BOT_TOKEN: z.string().startsWith('xoxb-', 'must be a bot token (xoxb-…)').optional(),
    SLACK_SIGNING_SECRET: optionalText,
    /** Set: Slack connects over Socket Mode (no public URL needed) instead of HTTP. */
    SLACK_APP_TOKEN: z.string().startsWith('xapp-', 'must be an app-level token (xapp-…)').optional(),
    SLACK_STAFF_USER_IDS: idList,
    SLACK_STAFF_USERGROUP_ID: optionalText,
    /** Discord's REST API, `https://discord.com/api` unless set; the gateway is wherever it says. */
    DISCORD_API_URL: apiUrl,
    /** Slack's Web API, `https://slack.com/api/` unless set. */
    SLACK_API_URL: apiUrl,
    /** A notice goes out when a write takes the balance below this. */
    LOW_BALANCE_THRESHOLD: z.coerce.bigint().min(0n).max(1_000_000_000n).default(10n),
  })
  .superRefine((config, ctx) => {
    if (config.DISCORD_TOKEN && !config.DISCORD_APPLICATION_ID) {
      ctx.addIssue({ code: 'custom', path: ['DISCORD_APPLICATION_ID'], message: 'is needed with DISCORD_TOKEN' });
    }
    if (config.SLACK_BOT_TOKEN && !config.SLACK_APP_TOKEN && !config.SLACK_SIGNING_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['SLACK_SIGNING_SECRET'], message: 'is needed with SLACK_BOT_TOKEN (or set SLACK_APP_TOKEN for Socket Mode)' });
    }
  });

export type ChatConfig = z.infer<typeof chatConfigSchema>;

export function loadChatConfig(env: NodeJS.ProcessEnv = process.env): ChatConfig {
  // `DISCORD_TOKEN=` in a .env file means not set.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''));
  const parsed = chatConfigSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ');
    throw new Error(`Chat configuration: ${problems}`);
  }
  return parsed.data;
}
