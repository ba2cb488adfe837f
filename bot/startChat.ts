import type { RawRouter } from '../admin/rawRouter.js';
import type { CoreContext } from '../core/context.js';
import type { Logger } from '../core/logger.js';
import type { ChatConfig } from './chatConfig.js';
import type { ChatNotifier } from './notices/chatNotifier.js';
import { ChatHealth } from './transportHealth.js';

export interface RunningChat {
  /** Stops the transports and the notices (sends in flight finish). */
  close(): Promise<void>;
  /** Lines for the start-up banner: what runs, or how to set it up. */
  summary: string[];
  /** HTTP endpoints to serve on the admin app's port (Slack's), mounted before its body parsers. */
  routers: RawRouter[];
  /** For /readyz: each configured transport's status (`{ chat: { slack: 'degraded' } }`); never a reason to fail readiness. */
  readiness: ChatHealth['readiness'];
}

/** Where Slack posts slash commands and button presses (the Request URL in the Slack app's settings). */
export const slackEventsPath = '/slack/events';

/**
 * Starts the configured transports and notices and resolves at once: each connects in the background and keeps
 * retrying (transportHealth.ts), so no platform can stop the ledger.
 */
export async function startChat(options: { ctx: CoreContext; logger: Logger; config: ChatConfig; notifier: ChatNotifier }): Promise<RunningChat> {
  // ctx's observer already tells the notifier (cli/wireProcess.ts), so the bots' own writes are noticed too.
  const { ctx, logger, config, notifier } = options;
  const routers: RawRouter[] = [];
  const health = new ChatHealth(logger);
  const summary: string[] = [];

  // Each platform's library is loaded only when its token is set: discord.js and Bolt hold ~45 and ~35 MB.
  if (config.DISCORD_TOKEN) {
    const { createDiscordBot } = await import('./discord/discordBot.js');
    const discord = createDiscordBot({
      ctx,
      logger,
      token: config.DISCORD_TOKEN,
      staffRoleId: config.DISCORD_STAFF_ROLE_ID,
      apiUrl: config.DISCORD_API_URL,
      onLinked: (externalId, view) => notifier.linked({ provider: 'DISCORD', externalId }, view),
    });
    // Notices are retried by the notifier, so they go out once Discord answers again.
    notifier.sendVia('DISCORD', discord.sendDirectMessage);
    health.supervise(discord.transport);
    summary.push('Discord: connecting in the background (its status is in /readyz); after changing commands run npm run register.');
  }

  if (config.SLACK_BOT_TOKEN) {
    const { createSlackBot } = await import('./slack/slackBot.js');
    const slack = createSlackBot({
      ctx,
      logger,
      botToken: config.SLACK_BOT_TOKEN,
      signingSecret: config.SLACK_SIGNING_SECRET,
      appToken: config.SLACK_APP_TOKEN,
      staff: { userIds: config.SLACK_STAFF_USER_IDS, usergroupId: config.SLACK_STAFF_USERGROUP_ID },
      apiUrl: config.SLACK_API_URL,
      onLinked: (externalId, view) => notifier.linked({ provider: 'SLACK', externalId }, view),
    });
    if (slack.router) routers.push({ path: slackEventsPath, router: slack.router });
    notifier.sendVia('SLACK', slack.sendDirectMessage);
    health.supervise(slack.transport);
    summary.push(
      slack.router
        ? `Slack: slash commands and buttons at ${slackEventsPath} on this port; checking the token in the background (its status is in /readyz).`
        : 'Slack: connecting over Socket Mode in the background (its status is in /readyz).',
    );
  }

  if (!config.DISCORD_TOKEN && !config.SLACK_BOT_TOKEN) {
    summary.push(
      'Chat bots: off. For Discord set DISCORD_TOKEN and DISCORD_APPLICATION_ID, then npm run register; for Slack set SLACK_BOT_TOKEN and ' +
        `SLACK_SIGNING_SECRET (Request URL: ${slackEventsPath}) or SLACK_APP_TOKEN (Socket Mode). Meanwhile npm run chat -- --as <user> runs the commands in a terminal.`,
    );
  }

  return {
    close: async () => {
      await notifier.close();
      await health.stop();
    },
    summary,
    routers,
    readiness: health.readiness,
  };
}
