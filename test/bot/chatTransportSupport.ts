import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import { Socket } from 'node:net';
import { ApplicationCommandOptionType, type Client, type ClientOptions, Events, type Interaction } from 'discord.js';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { createApp } from '../../admin/app.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import type { CoreContext } from '../../core/context.js';
import type { EntryType } from '../../core/db/generated/enums.js';
import { claimLinkCode } from '../../core/identity/claimLinkCode.js';
import { createLinkCode } from '../../core/identity/createLinkCode.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import type { Logger } from '../../core/logger.js';
import { loadChatConfig } from '../../bot/chatConfig.js';
import { ChatNotifier } from '../../bot/notices/chatNotifier.js';
import { type RunningChat, slackEventsPath, startChat } from '../../bot/startChat.js';
import { observeWrites } from '../../cli/wireProcess.js';
import { type Answer, LoopbackApi } from '../support/loopbackApi.js';
import { inDays, key, service } from '../support/scenario.js';

/** Discord's REST API, Slack's Web API and Slack's response URLs, each on a loopback server of its own for the whole run. */
export const discordApi = await LoopbackApi.start();
const slackApi = await LoopbackApi.start();
const slackResponses = await LoopbackApi.start();

/** Where the bot is told Discord's REST API is (DISCORD_API_URL), and Slack's Web API (SLACK_API_URL). */
export const discordApiUrl = `${discordApi.url}/api`;
const slackApiUrl = `${slackApi.url}/api/`;

/** Clears the stand-ins' routes and what they saw; returns the calls none of them answered. */
export function resetChatApis(): string[] {
  const standIns = [discordApi, slackApi, slackResponses];
  const unrouted = standIns.flatMap((standIn) => standIn.unrouted);
  for (const standIn of standIns) standIn.reset();
  return unrouted;
}

/**
 * For a describe: only the stand-ins above answer, their routes cleared after each test; an unanswered call, or any
 * connection (TCP, TLS, fetch, websockets) to a host that is not loopback, fails the test.
 */
export function offline(): void {
  const remote: string[] = [];
  const connect = Socket.prototype.connect;
  beforeAll(() => {
    Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
      const host = connectionHost(args);
      if (host !== null && !isLoopback(host)) remote.push(host);
      return (connect as (...args: unknown[]) => Socket).apply(this, args);
    } as typeof connect;
  });
  afterAll(() => {
    Socket.prototype.connect = connect;
  });
  afterEach(() => {
    expect(resetChatApis()).toEqual([]);
    expect(remote.splice(0), 'connections beyond loopback').toEqual([]);
  });
}

/** The host a socket.connect call dials, or null for a local (IPC) path; Node's default host is localhost. */
function connectionHost([first, second]: unknown[]): string | null {
  const target = Array.isArray(first) ? first[0] : first;
  if (typeof target === 'object' && target !== null) {
    const options = target as { path?: string; host?: string };
    return options.path ? null : (options.host ?? 'localhost');
  }
  if (typeof target === 'string' && Number.isNaN(Number(target))) return null;
  return typeof second === 'string' ? second : 'localhost';
}

function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || /^(::ffff:)?127\./.test(bare);
}

/** A logger whose lines the test can read. */
export function recordingLogger() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** A user with an account, linked to a chat identity the way the website and /link do it. */
export async function linkedUser(ctx: CoreContext, userExternalId: string, provider: 'DISCORD' | 'SLACK', chatUserId: string): Promise<string> {
  const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: userExternalId } });
  const { code } = await createLinkCode(ctx, { userExternalId, provider });
  await claimLinkCode(ctx, { provider, externalId: chatUserId, code });
  return accountId;
}

/** Polls until `done` holds (a background send finished), failing after a few seconds. */
export async function eventually(done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A month of use, as the console test writes it: a monthly grant of 325 (30 days), 50 purchased, four generations
 * of 3 images, 20 chat messages and six 8-second clips in flight: 144 credits used.
 */
export async function seedMonthOfUse(ctx: CoreContext, accountId: string): Promise<void> {
  await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'PLAN_GRANT', bucket: 'PLAN', amount: 325n, expiresAt: inDays(30) });
  await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 50n });
  for (let i = 0; i < 4; i++) await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 3 }, source: { kind: 'project', id: `p${i}` } });
  await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 20 } });
  await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'submission', clipSeconds: [8, 8, 8, 8, 8, 8] } });
}

/**
 * /why of seedMonthOfUse's month, on any transport: from the monthly grant (`balanceWas` just before it), the
 * spends by category adding up to `now` (the purchase of 50 is the rest), the submission in flight.
 */
export function expectWhyOfMonthOfUse(why: string, { balanceWas, now }: { balanceWas: number; now: number }): void {
  expect(why).toContain('from your last monthly grant on');
  expect(why).toContain(`your balance was ${balanceWas}.`);
  expect(why).toMatch(/Monthly grant\s+1×\s+\+325/);
  expect(why).toMatch(/Image generation\s+4×\s+-36/);
  expect(why).toMatch(/Chat\s+1×\s+-20/);
  expect(why).toMatch(/Submission\s+1×\s+-88/);
  expect(why).toContain(`Now: ${now} (${balanceWas} + ${now - balanceWas}, it adds up).`);
  expect(why).toContain('1 submission still in flight: 88 credits were deducted at submit');
}

/**
 * A signup bonus of 100, then twelve 1-credit chats from twelve projects, so twelve activity rows rather than one
 * group: a page of ten and two more. `project` gives project i a label and a link.
 */
export async function seedTwelveChats(ctx: CoreContext, accountId: string, project?: (i: number) => { label: string; url: string }): Promise<void> {
  await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 100n });
  for (let i = 0; i < 12; i++) {
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 1 }, source: { kind: 'project', id: `p${i}`, ...project?.(i) } });
  }
}

/** How many entries of one type the account has (a replayed staff command must add one, not two). */
export async function entriesOfType(ctx: CoreContext, accountId: string, type: EntryType): Promise<number> {
  return ctx.db.prisma.entry.count({ where: { accountId, type } });
}

/** A request's body as the fake API received it: parsed if JSON, else the text (a multipart upload). */
export async function requestBody(request: Request): Promise<unknown> {
  const text = await request.text();
  return request.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as unknown) : text;
}

// ---- Discord: raw INTERACTION_CREATE payloads, and Discord's interaction API on loopback ----

export const discordApplicationId = '1000000000000000001';
export const discordGuildId = '1000000000000000002';
export const discordChannelId = '1000000000000000003';
export const discordStaffRoleId = '1000000000000000004';

let nextSnowflake = 1200000000000000000n;
/** A fresh Discord id (users, interactions, messages). */
export const snowflake = () => String(++nextSnowflake);

/** A discord.js client as the tests run it: never logged in, its REST API the stand-in, given up on at once. */
export const offlineClientOptions: ClientOptions = { intents: [], rest: { api: discordApiUrl, retries: 0, timeout: 2_000 } };

/** A Discord user as the API sends it. */
export const discordUser = (id: string) => ({ id, username: `u${id.slice(-4)}`, discriminator: '0', global_name: null, avatar: null });

/** The member of the server who runs a command or presses a button: their roles and permissions there. */
export interface DiscordInvoker {
  id: string;
  roles?: string[];
  permissions?: string;
}

/** An INTERACTION_CREATE payload as Discord sends it, from a member of a server. */
function rawInteraction(invoker: DiscordInvoker, type: number, data: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    id: snowflake(),
    application_id: discordApplicationId,
    type,
    token: `token-${snowflake()}`,
    version: 1,
    guild_id: discordGuildId,
    channel_id: discordChannelId,
    channel: { id: discordChannelId, type: 0 },
    member: {
      user: discordUser(invoker.id),
      roles: invoker.roles ?? [],
      permissions: invoker.permissions ?? '0',
      joined_at: '2024-01-01T00:00:00.000Z',
      deaf: false,
      mute: false,
      flags: 0,
    },
    app_permissions: '0',
    locale: 'en-GB',
    guild_locale: 'en-GB',
    entitlements: [],
    authorizing_integration_owners: { '0': discordGuildId },
    context: 0,
    data,
    ...extra,
  };
}
export type RawInteraction = ReturnType<typeof rawInteraction>;

/** A slash command with its options (numbers as integer options, the rest as strings). */
export function discordSlashCommand(invoker: DiscordInvoker, name: string, options: Record<string, string | number> = {}): RawInteraction {
  const typeOf = (value: string | number) => (typeof value === 'number' ? ApplicationCommandOptionType.Integer : ApplicationCommandOptionType.String);
  return rawInteraction(invoker, 2, {
    id: snowflake(),
    name,
    type: 1,
    options: Object.entries(options).map(([optionName, value]) => ({ name: optionName, type: typeOf(value), value })),
  });
}

/** A press on a button of the (ephemeral) message that answered `ranBy`'s command (by default the presser's own). */
export function discordButtonPress(invoker: DiscordInvoker, customId: string, ranBy = invoker.id): RawInteraction {
  const message = {
    id: snowflake(),
    channel_id: discordChannelId,
    type: 20,
    flags: 64,
    content: '',
    author: { ...discordUser(discordApplicationId), bot: true },
    embeds: [],
    components: [],
    attachments: [],
    mentions: [],
    mention_roles: [],
    mention_everyone: false,
    pinned: false,
    tts: false,
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    interaction_metadata: { id: snowflake(), type: 2, user: discordUser(ranBy), authorizing_integration_owners: { '0': discordGuildId } },
  };
  return rawInteraction(invoker, 3, { custom_id: customId, component_type: 2 }, { message });
}

/** What the gateway connection does with an INTERACTION_CREATE dispatch: discord.js builds the interaction and emits it. */
export function injectInteraction(client: Client, payload: RawInteraction): void {
  (client as unknown as { actions: { InteractionCreate: { handle(data: unknown): void } } }).actions.InteractionCreate.handle(payload);
}

/** Injects a payload into `client` and resolves with the interaction discord.js built from it. */
export function interactionFrom(client: Client, payload: RawInteraction): Promise<Interaction> {
  const interaction = new Promise<Interaction>((resolve) => client.once(Events.InteractionCreate, resolve));
  injectInteraction(client, payload);
  return interaction;
}

/** A call the bot makes to Discord's interaction API: a callback (defer, reply, update, autocomplete), an edit of the original reply, a follow-up message. */
export type DiscordCall = 'callback' | 'edit' | 'followUp';

/**
 * Discord's interaction API on its stand-in. `onCall` sees each call first and may fail it with a status; otherwise
 * a callback gets 204 and an edit or follow-up the message Discord returns.
 */
export function discordInteractionApi(onCall: (call: DiscordCall, token: string, request: Request) => Promise<number | void>): void {
  const reply = (call: DiscordCall) => async (request: Request): Promise<Answer> => {
    // /api/v10/interactions/<id>/<token>/callback, /api/v10/webhooks/<application>/<token>[/messages/@original]
    const failed = await onCall(call, new URL(request.url).pathname.split('/')[5]!, request);
    if (failed) return [failed, { message: 'Internal Server Error', code: 0 }];
    if (call === 'callback') return [204, ''];
    const author = { ...discordUser(discordApplicationId), bot: true };
    return [200, { id: snowflake(), channel_id: discordChannelId, content: '', embeds: [], components: [], attachments: [], author, timestamp: new Date().toISOString(), type: 0, flags: 64 }];
  };
  discordApi
    .route('POST', /^\/api\/v10\/interactions\/\d+\/[^/]+\/callback$/, reply('callback'))
    .route('PATCH', /^\/api\/v10\/webhooks\/\d+\/[^/]+\/messages\/(@|%40)original$/, reply('edit'))
    .route('POST', /^\/api\/v10\/webhooks\/\d+\/[^/]+$/, reply('followUp'));
}

// ---- Slack: the transport on the admin app on loopback, signed requests to it, Slack's API on loopback ----

/** The signing secret the Slack transport is started with: what it signs is Slack's. */
export const slackSigningSecret = 'test-signing-secret-0123456789';

/** startChat's Slack transport (HTTP mode), its routers on the admin app, listening on loopback. */
export interface SlackOnLoopback {
  baseUrl: string;
  /** Where Slack posts slash commands and button presses. */
  eventsUrl: string;
  close(): Promise<void>;
}

/** Starts it from a Slack configuration: a bot token, the signing secret and `env` (staff users, a staff group). */
export async function startSlackOnLoopback(ctx: CoreContext, logger: Logger, env: Record<string, string> = {}): Promise<SlackOnLoopback> {
  const config = loadChatConfig({ SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: slackSigningSecret, SLACK_API_URL: slackApiUrl, ...env });
  const notifier = new ChatNotifier(ctx, logger, { lowBalanceThreshold: config.LOW_BALANCE_THRESHOLD });
  const observed = observeWrites(ctx, notifier);
  const chat: RunningChat = await startChat({ ctx: observed.ctx, logger, config, notifier });
  const app = createApp(observed.ctx, logger, { routers: chat.routers, metrics: observed.metrics });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    baseUrl,
    eventsUrl: `${baseUrl}${slackEventsPath}`,
    close: async () => {
      await chat.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A form as Slack posts it: url-encoded, with its timestamp and v0 signature (or a `forged` signature or timestamp). */
export function signedSlackRequest(form: Record<string, string>, forged: { signature?: string; timestamp?: number } = {}): { headers: Record<string, string>; body: string } {
  const body = new URLSearchParams(form).toString();
  const timestamp = forged.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = forged.signature ?? `v0=${createHmac('sha256', slackSigningSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature }, body };
}

let slackTriggers = 0;

/** A slash command as Slack posts it, with its own trigger id and response_url. */
export function slackSlashCommand(user: string, command: string, text = ''): Record<string, string> {
  const n = ++slackTriggers;
  return {
    token: 'legacy',
    team_id: 'T1',
    team_domain: 'studio',
    channel_id: 'C1',
    channel_name: 'general',
    user_id: user,
    user_name: user.toLowerCase(),
    command,
    text,
    api_app_id: 'A1',
    response_url: `${slackResponses.url}/commands/T1/${n}/reply`,
    trigger_id: `${n}.1.abc`,
  };
}

/** A press on one of the buttons of the caller's ephemeral reply, as Slack posts the block_actions payload. */
export function slackButtonPress(user: string, button: { action_id: string; value: string }): Record<string, string> {
  const n = ++slackTriggers;
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), team_id: 'T1' },
    api_app_id: 'A1',
    token: 'legacy',
    container: { type: 'message', message_ts: '1.1', channel_id: 'C1', is_ephemeral: true },
    trigger_id: `${n}.2.def`,
    team: { id: 'T1', domain: 'studio' },
    channel: { id: 'C1', name: 'general' },
    response_url: `${slackResponses.url}/actions/T1/${n}/reply`,
    actions: [{ ...button, type: 'button', block_id: 'b1', action_ts: '1.2', text: { type: 'plain_text', text: 'Next' } }],
  };
  return { payload: JSON.stringify(payload) };
}

/** The path of the response_url a slash command or button press carries: where the bot's replies to it arrive. */
export function slackResponsePath(form: Record<string, string>): string {
  return new URL(form.response_url ?? (JSON.parse(form.payload!) as { response_url: string }).response_url).pathname;
}

/**
 * Slack's Web API on its stand-in: auth.test, users.info (the user's time zone from `timeZones`, else UTC),
 * usergroups.users.list (`groupMembers`), chat.postMessage; `onCall` is told of each call.
 */
export function slackWebApi({ onCall, timeZones = {}, groupMembers = [] }: { onCall?: (method: string, body: Record<string, string>) => void; timeZones?: Record<string, string>; groupMembers?: string[] } = {}): void {
  slackApi.route('POST', /^\/api\//, async (request) => {
    const method = new URL(request.url).pathname.replace('/api/', '');
    const body = Object.fromEntries(new URLSearchParams(await request.text()));
    onCall?.(method, body);
    switch (method) {
      case 'auth.test':
        return [200, { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1' }];
      case 'users.info':
        return [200, { ok: true, user: { id: body.user, tz: timeZones[String(body.user)] ?? 'UTC' } }];
      case 'usergroups.users.list':
        return [200, { ok: true, users: groupMembers }];
      default:
        return [200, { ok: true, channel: body.channel, ts: '1.1' }];
    }
  });
}

/** Slack's response URLs on their stand-in: `onReply` is told of each reply the bot posts (its path, the request). */
export function slackResponseUrls(onReply: (path: string, request: Request) => Promise<void>): void {
  slackResponses.route('POST', /^\//, async (request) => {
    await onReply(new URL(request.url).pathname, request);
    return [200, 'ok'];
  });
}

/** One thing the bot posted to Slack: a Web API call (`to` its method) or a reply (`to` its response_url path). */
export interface SlackPost {
  to: string;
  body: Record<string, any>;
}

/** The Slack transport of a describe, with Slack's side of the conversation. */
export interface SlackUnderTest {
  readonly baseUrl: string;
  /** What the bot posted to Slack, in order. */
  readonly posted: SlackPost[];
  /** Posts a form to /slack/events as Slack does (see signedSlackRequest). */
  post(form: Record<string, string>, forged?: { signature?: string; timestamp?: number }): Promise<Response>;
  /** Posts a signed form; resolves with the HTTP status, all Slack itself ever sees. */
  deliver(form: Record<string, string>): Promise<number>;
  /** Everything the bot answered through the form's response_url, once `count` answers arrived. */
  repliesTo(form: Record<string, string>, count?: number): Promise<Record<string, any>[]>;
  /** Delivers a form (answered 200) and resolves with the bot's reply on its response_url. */
  answer(form: Record<string, string>): Promise<Record<string, any>>;
}

/**
 * For a describe (after useFreshLedger and offline): the Slack transport on the admin app on loopback for its
 * tests, Slack's API on its stand-in recording what the bot posts.
 */
export function slackOnAdminApp(ctx: CoreContext, logger: Logger, env: Record<string, string>, api: { timeZones?: Record<string, string>; groupMembers?: string[] } = {}): SlackUnderTest {
  const posted: SlackPost[] = [];
  let slack: SlackOnLoopback | undefined;
  const slackApi = () => {
    slackWebApi({ ...api, onCall: (method, body) => posted.push({ to: method, body }) });
    slackResponseUrls(async (path, request) => {
      posted.push({ to: path, body: (await request.json()) as Record<string, any> });
    });
  };
  // offline() clears the stand-ins' routes after each test.
  beforeEach(slackApi);
  beforeAll(async () => {
    slackApi();
    slack = await startSlackOnLoopback(ctx, logger, env);
  });
  afterAll(async () => slack?.close());

  const post = (form: Record<string, string>, forged?: { signature?: string; timestamp?: number }) => {
    const { headers, body } = signedSlackRequest(form, forged);
    return fetch(slack!.eventsUrl, { method: 'POST', headers, body });
  };
  const deliver = async (form: Record<string, string>) => {
    const response = await post(form);
    await response.text();
    return response.status;
  };
  const repliesTo = async (form: Record<string, string>, count = 1) => {
    const path = slackResponsePath(form);
    await eventually(() => posted.filter((p) => p.to === path).length >= count);
    return posted.filter((p) => p.to === path).map((p) => p.body);
  };
  const answer = async (form: Record<string, string>) => {
    expect(await deliver(form)).toBe(200);
    const [reply] = await repliesTo(form);
    return reply!;
  };
  return {
    get baseUrl() {
      return slack!.baseUrl;
    },
    posted,
    post,
    deliver,
    repliesTo,
    answer,
  };
}
