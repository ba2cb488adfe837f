import { App, type BlockAction, type ButtonAction, ExpressReceiver, type RespondArguments, type RespondFn, SocketModeReceiver, webApi } from '@slack/bolt';
import express from 'express';
import type { z } from 'zod';
import type { CoreContext } from '../../core/context.js';
import type { Logger } from '../../core/logger.js';
import { staleButtonText, unexpectedErrorText } from '../chatFormat.js';
import type { Command } from '../command.js';
import { commands } from '../commands/index.js';
import { parseLine } from '../text/parseLine.js';
import { dispatch } from '../dispatch.js';
import type { DirectMessageSender } from '../notices/chatNotifier.js';
import { type ChatTransport, type ConnectionEvents, CredentialsRejected } from '../transportHealth.js';
import type { View } from '../views.js';
import { activityActionPattern, parseActivityButtonValue } from './activityButtons.js';
import { boltLogger } from './boltLogger.js';
import { type SlackMessage, renderSlack } from './renderSlack.js';
import { slackCaller } from './slackCaller.js';
import { SlackDirectory, type SlackStaffSettings } from './slackDirectory.js';
import { verifySlackRequest } from './verifySlackRequest.js';

export interface SlackBotOptions {
  ctx: CoreContext;
  logger: Logger;
  botToken: string;
  /** HTTP: Slack posts to `router`, and each request's timestamp and signature are checked with this secret. */
  signingSecret?: string | undefined;
  /** Socket Mode instead: Creditkeeper dials out to Slack, no public URL needed. */
  appToken?: string | undefined;
  staff: SlackStaffSettings;
  /** Told when someone linked this Slack account (the link notice goes out from there). */
  onLinked?: (slackUserId: string, view: Extract<View, { kind: 'linked' }>) => void;
  /** Slack's Web API (`https://slack.com/api/` unless set): tests point it at a server of their own. */
  apiUrl?: string | undefined;
}

export interface SlackBot {
  /** HTTP mode: the Express router to mount at /slack/events (slash commands and button presses both go there). */
  router: express.Router | null;
  /** For the supervisor: an attempt checks the token (auth.test) and, in Socket Mode, connects. */
  transport: ChatTransport;
  sendDirectMessage: DirectMessageSender;
}

/** auth.test's answers that mean the token itself is refused, not that Slack is unwell. */
const refusedTokenErrors = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'not_allowed_token_type']);
/** A Web API call with no answer by then has failed (Slack's client waits for ever by default). */
const requestTimeoutMs = 10_000;

/**
 * The Slack transport: each chat command as a slash command with an ephemeral Block Kit reply, which the
 * activity paging buttons replace.
 */
export function createSlackBot(options: SlackBotOptions): SlackBot {
  const { ctx, logger } = options;
  const log = boltLogger(logger);
  // Retries of notices are the notifier's and of auth.test the supervisor's; other calls fall back quickly rather than wait.
  const clientOptions: webApi.WebClientOptions = {
    retryConfig: { retries: 0 },
    timeout: requestTimeoutMs,
    logger: log,
    ...(options.apiUrl && { slackApiUrl: options.apiUrl }),
  };
  const client = new webApi.WebClient(options.botToken, clientOptions);
  // auth.test's failures are the supervisor's to report, once per change, not the client's on every try.
  const probe = new webApi.WebClient(options.botToken, { ...clientOptions, logger: { ...log, info: log.debug, warn: log.debug, error: log.debug } });
  // Not Slack's own reconnects: their failures escape as unhandled rejections; the supervisor reconnects instead.
  const socket = options.appToken ? new SocketModeReceiver({ appToken: options.appToken, logger: log, autoReconnectEnabled: false }) : null;
  const http = socket ? null : signedRequestReceiver(options.signingSecret ?? '', logger, log);
  let identity: { botId?: string | undefined; botUserId?: string | undefined } = {};
  let connection: ConnectionEvents | undefined;
  socket?.client.on('disconnected', () => connection?.lost('Socket Mode connection closed'));
  const app = new App({
    // Bolt's own token check runs once in its constructor and fails the process when Slack is
    // unreachable; the bot's identity comes from the supervisor's auth.test instead, once it answers.
    authorize: async () => ({ botToken: options.botToken, ...identity }),
    receiver: socket ?? http!,
    logger: log,
    clientOptions,
  });
  const directory = new SlackDirectory(client, options.staff, logger);

  /** The rendered answer; `failed` when it is an error (a refusal, bad input, or something unexpected, already logged). */
  async function answer(userId: string, interactionId: string, name: string, values: Record<string, string>): Promise<{ message: SlackMessage; failed: boolean }> {
    try {
      const caller = await slackCaller(ctx, directory, userId, interactionId);
      const view = await dispatch(ctx, logger, caller, name, values);
      if (view.kind === 'linked') options.onLinked?.(userId, view);
      return { message: renderSlack(view, { caller: userId, account: values.account }), failed: view.kind === 'error' };
    } catch (error) {
      const text = unexpectedErrorText(logger, error, { transport: 'slack', interactionId });
      return { message: { text, blocks: [] }, failed: true };
    }
  }

  /** A reply Slack refuses (an expired response_url, an outage) is logged, never thrown. */
  async function reply(respond: RespondFn, message: RespondArguments): Promise<void> {
    try {
      await respond(message);
    } catch (error) {
      logger.warn({ err: error }, 'could not reply in Slack');
    }
  }

  for (const command of commands) {
    app.command(`/${command.name}`, async ({ command: payload, ack, respond }) => {
      // Acknowledge at once (Slack waits three seconds); the answer follows through response_url.
      await ack();
      const values = commandOptions(command, slackText(payload.text));
      await reply(respond, { response_type: 'ephemeral', ...(await answer(payload.user_id, payload.trigger_id, command.name, values)).message });
    });
  }

  app.action<BlockAction<ButtonAction>>(activityActionPattern, async ({ ack, body, action, respond }) => {
    await ack();
    const request = parseActivityButtonValue(action.value);
    const stale = { transport: 'slack', interactionId: body.trigger_id, value: action.value?.slice(0, 300) };
    if (!request) {
      // An old message's button, or a value this bot never wrote: say so rather than nothing at all.
      logger.warn(stale, 'a button the bot cannot read');
      await reply(respond, { response_type: 'ephemeral', replace_original: false, text: staleButtonText });
      return;
    }
    if (request.caller !== body.user.id) {
      await reply(respond, { response_type: 'ephemeral', replace_original: false, text: 'Only the person who ran /activity can turn its pages.' });
      return;
    }
    const { caller: _caller, ...values } = request;
    const { message, failed } = await answer(body.user.id, body.trigger_id, 'activity', values);
    if (failed) {
      // A cursor that no longer reads, an account that is gone: the page stays as it was, and only the presser is told.
      logger.warn(stale, 'a button could not turn the page');
      await reply(respond, { response_type: 'ephemeral', replace_original: false, ...message });
      return;
    }
    await reply(respond, { replace_original: true, ...message });
  });

  app.error(async (error) => {
    logger.error({ err: error }, 'Slack request failed');
  });

  return {
    router: http?.router ?? null,
    transport: {
      name: 'slack',
      label: 'Slack',
      connect: async (events) => {
        const auth = await probe.auth.test().catch(asRefusedToken);
        identity = { botId: auth.bot_id, botUserId: auth.user_id };
        if (!socket) return;
        connection = events;
        await app.start().catch(asRefusedToken);
      },
      disconnect: async () => {
        connection = undefined;
        if (socket) await app.stop();
      },
    },
    sendDirectMessage: async (userId, text) => {
      // A user id as the channel: the message lands in the user's direct messages with the app.
      await client.chat.postMessage({ channel: userId, text });
    },
  };
}

/** Rethrows a Web API failure, as CredentialsRejected when Slack refused the token. */
function asRefusedToken(error: unknown): never {
  const code = (error as { data?: { error?: unknown } }).data?.error;
  throw typeof code === 'string' && refusedTokenErrors.has(code) ? new CredentialsRejected(code) : error;
}

/**
 * HTTP mode's receiver: each POST is verified by verifySlackRequest (timestamp within five minutes
 * either way, then the signature) before Bolt's receiver, which checks the same bytes again.
 */
function signedRequestReceiver(signingSecret: string, logger: Logger, log: ReturnType<typeof boltLogger>): ExpressReceiver {
  const router = express.Router();
  router.post('/', ...verifySlackRequest(signingSecret, logger));
  return new ExpressReceiver({ signingSecret, endpoints: '/', router, logger: log });
}

/**
 * `name:value` options as on the console; text with no `name:` at all is the command's first
 * required option, so `/link ABCD-2345` and `/lookup maria` work as people type them.
 */
function commandOptions(command: Command, text: string): Record<string, string> {
  const shape = (command.options as unknown as z.ZodObject).shape;
  const firstRequired = Object.entries(shape).find(([, schema]) => !(schema as z.ZodType).safeParse(undefined).success)?.[0];
  if (firstRequired && text.trim() && !text.includes(':')) return { [firstRequired]: text.trim() };
  return parseLine(`/${command.name} ${text}`)?.options ?? {};
}

/** Slack escapes &, < and > in what the user typed; typographic quotes count as quotes. */
function slackText(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/[“”]/g, '"');
}
