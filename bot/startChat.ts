import type { RawRouter } from '../admin/app.js';
import { type CoreContext, combineObservers, type LedgerObserver } from '../core/context.js';
import type { Logger } from '../core/logger.js';
import { type ChatConfig, loadChatConfig } from './chatConfig.js';
import { createDiscordBot } from './discord/discordBot.js';
import { ChatNotifier, type ChatNotifierOptions } from './notices/chatNotifier.js';
import { createSlackBot } from './slack/slackBot.js';

export interface RunningChat {
  /** Tells the chat notices about ledger writes: combine it into the context the rest of the process writes with. */
  observer: LedgerObserver;
  close(): Promise<void>;
  /** Lines for the start-up banner: what runs, or how to set it up. */
  summary: string[];
  /** HTTP endpoints to serve on the admin app's port (Slack's), mounted before its body parsers. */
  routers: RawRouter[];
}

/** Where Slack posts slash commands and button presses (the Request URL in the Slack app's settings). */
export const slackEventsPath = '/slack/events';

/**
 * Starts the chat transports whose credentials are configured: Discord over the gateway, Slack
 * over HTTP on the admin app's own port (its router, returned for createApp to mount) or Socket Mode, and the direct-message notices. A
 * transport that fails to connect is reported in the summary; the ledger keeps serving.
 */
export async function startChat(options: { ctx: CoreContext; logger: Logger; config?: ChatConfig }): Promise<RunningChat> {
  const { logger } = options;
  const routers: RawRouter[] = [];
  const config = options.config ?? loadChatConfig();
  const senders: ChatNotifierOptions['senders'] = {};
  const notifier = new ChatNotifier(options.ctx, logger, { senders, lowBalanceThreshold: config.LOW_BALANCE_THRESHOLD });
  // Writes the bots make themselves (the /link reward, staff adjustments) are noticed too.
  const ctx: CoreContext = { ...options.ctx, observer: combineObservers(options.ctx.observer, notifier.observer) };
  const closers: (() => Promise<void>)[] = [];
  const summary: string[] = [];

  if (config.DISCORD_TOKEN) {
    const discord = createDiscordBot({
      ctx,
      logger,
      token: config.DISCORD_TOKEN,
      staffRoleId: config.DISCORD_STAFF_ROLE_ID,
      onLinked: (externalId, view) => notifier.linked({ provider: 'DISCORD', externalId }, view),
    });
    try {
      await discord.start();
      senders.DISCORD = discord.sendDirectMessage;
      closers.push(discord.close);
      summary.push(`Discord: connected as ${discord.client.user?.tag ?? 'the bot'}; after changing commands run npm run register.`);
    } catch (error) {
      logger.error({ err: error }, 'Discord bot could not connect');
      await discord.close();
      summary.push(`Discord: could not connect (${error instanceof Error ? error.message : String(error)}); check DISCORD_TOKEN.`);
    }
  }

  if (config.SLACK_BOT_TOKEN) {
    const slack = createSlackBot({
      ctx,
      logger,
      botToken: config.SLACK_BOT_TOKEN,
      signingSecret: config.SLACK_SIGNING_SECRET,
      appToken: config.SLACK_APP_TOKEN,
      staff: { userIds: config.SLACK_STAFF_USER_IDS, usergroupId: config.SLACK_STAFF_USERGROUP_ID },
      onLinked: (externalId, view) => notifier.linked({ provider: 'SLACK', externalId }, view),
    });
    try {
      if (slack.router) routers.push({ path: slackEventsPath, router: slack.router });
      await slack.start();
      senders.SLACK = slack.sendDirectMessage;
      closers.push(slack.close);
      summary.push(slack.router ? `Slack: slash commands and buttons at ${slackEventsPath} on this port.` : 'Slack: connected over Socket Mode.');
    } catch (error) {
      logger.error({ err: error }, 'Slack app could not start');
      summary.push(`Slack: could not start (${error instanceof Error ? error.message : String(error)}); check SLACK_APP_TOKEN and SLACK_BOT_TOKEN.`);
    }
  }

  if (!config.DISCORD_TOKEN && !config.SLACK_BOT_TOKEN) {
    summary.push(
      'Chat bots: off. For Discord set DISCORD_TOKEN and DISCORD_APPLICATION_ID, then npm run register; for Slack set SLACK_BOT_TOKEN and ' +
        `SLACK_SIGNING_SECRET (Request URL: ${slackEventsPath}) or SLACK_APP_TOKEN (Socket Mode). Meanwhile npm run chat -- --as <user> runs the commands in a terminal.`,
    );
  }

  return {
    observer: notifier.observer,
    close: async () => {
      await notifier.close();
      for (const close of closers.reverse()) await close().catch((error: unknown) => logger.warn({ err: error }, 'chat transport did not close cleanly'));
    },
    summary,
    routers,
  };
}
