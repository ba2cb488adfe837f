/**
 * Chat commands timed through the real transports (issue 5): from a signed Slack request
 * arriving to its HTTP response and to the reply on its response_url, and from an injected
 * Discord interaction to its callback (the deferral Discord's 3-second deadline is about) and to
 * the edit that carries the answer.
 *
 * Slack is the transport startChat starts from a Slack configuration, mounted on the admin app
 * and listening on loopback; Discord is the bot createDiscordBot builds (a discord.js Client with
 * the real interaction listener, never logged in) fed raw INTERACTION_CREATE payloads. nock stands
 * in for slack.com, the response_url host and discord.com, and notes when each request reaches it.
 * Import this module before discord.js (nock must be in place first; on Node 20 it needs the
 * Promise.withResolvers polyfill before it).
 */
import '../test/support/promiseWithResolvers.js';
import nock from 'nock';
import { linkedUser } from '../test/bot/chatTransportSupport.js';
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import { Worker } from 'node:worker_threads';
import { createApp } from '../admin/app.js';
import type { CoreContext } from '../core/context.js';
import type { Logger } from '../core/logger.js';
import { loadChatConfig } from '../bot/chatConfig.js';
import { createDiscordBot } from '../bot/discord/discordBot.js';
import { errorText } from '../bot/errorText.js';
import { slackEventsPath, startChat } from '../bot/startChat.js';
import { percentile } from './support.js';

/** The commands issue 5 names, as typed with no options. */
export const transportCommands = ['credits', 'activity', 'why'] as const;

/** What the two moments are, per transport (also written to the results file). */
export const transportMoments = {
  Slack: { ack: 'HTTP response to the signed slash-command POST', answer: 'ephemeral reply POSTed to the response_url' },
  Discord: { ack: 'interaction callback (the deferral)', answer: 'edit of the original reply carrying the answer' },
} as const;

type TransportName = keyof typeof transportMoments;

export interface TransportTiming {
  transport: TransportName;
  command: string;
  ack: { medianMs: number; p95Ms: number };
  answer: { medianMs: number; p95Ms: number };
  repeats: number;
}

const slackSigningSecret = 'bench-signing-secret-0123456789';
const slackUserId = 'UBENCH01';
const slackResponseHost = 'https://hooks.slack.com';
const discordApplicationId = '1000000000000000001';
const discordGuildId = '1000000000000000002';
const discordChannelId = '1000000000000000003';
const discordUserId = '1100000000000000001';
/** A request that never reaches the fake API fails the bench rather than hanging it. */
const arrivalTimeoutMs = 10_000;

/** The moment, in milliseconds, on one scale for every thread (each has its own performance.now() origin). */
const clock = () => performance.timeOrigin + performance.now();

/** A request as it reached the fake Slack or Discord API: when, and its body. */
interface Arrival {
  at: number;
  body: unknown;
}

/** The moment each awaited request reaches the fake APIs, by a key the request's path carries. */
class Arrivals {
  private readonly waiting = new Map<string, (arrival: Arrival) => void>();

  expect(key: string): Promise<Arrival> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new Error(`nothing reached ${key} within ${arrivalTimeoutMs} ms`));
      }, arrivalTimeoutMs);
      this.waiting.set(key, (arrival) => {
        clearTimeout(timer);
        resolve(arrival);
      });
    });
  }

  /** Call first thing in the interceptor, so reading the body is not inside the time. */
  async arrived(key: string, request: Request): Promise<void> {
    const at = clock();
    const text = await request.text();
    const body = request.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as unknown) : text;
    this.waiting.get(key)?.({ at, body });
    this.waiting.delete(key);
  }
}

const arrivals = new Arrivals();

/**
 * Slack's Web API and response URLs, and Discord's interaction endpoints, answered by nock (every
 * other host except loopback refused). Returns the undo.
 */
export function interceptChatApis(): () => void {
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
  nock('https://slack.com')
    .persist()
    .post(/\/api\/.*/)
    .reply(async (request: Request) => {
      const method = new URL(request.url).pathname.replace('/api/', '');
      const body = Object.fromEntries(new URLSearchParams(await request.text()));
      if (method === 'auth.test') return [200, { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1' }];
      if (method === 'users.info') return [200, { ok: true, user: { id: body.user, tz: 'UTC' } }];
      return [200, { ok: true, channel: body.channel, ts: '1.1' }];
    });
  nock(slackResponseHost)
    .persist()
    .post(/.*/)
    .reply(async (request: Request) => {
      await arrivals.arrived(new URL(request.url).pathname, request);
      return [200, 'ok'];
    });
  nock('https://discord.com')
    .persist()
    .post(/\/api\/v10\/interactions\/\d+\/[^/]+\/callback/)
    .query(true)
    .reply(async (request: Request) => {
      await arrivals.arrived(`callback:${new URL(request.url).pathname.split('/')[5]}`, request);
      return [204, ''];
    })
    .patch(/\/api\/v10\/webhooks\/\d+\/[^/]+\/messages\/(@|%40)original/)
    .query(true)
    .reply(async (request: Request) => {
      await arrivals.arrived(`edit:${new URL(request.url).pathname.split('/')[5]}`, request);
      const author = { id: discordApplicationId, username: 'creditkeeper', discriminator: '0', global_name: null, avatar: null, bot: true };
      return [200, { id: snowflake(), channel_id: discordChannelId, content: '', embeds: [], components: [], attachments: [], author, timestamp: new Date().toISOString() }];
    });
  return () => {
    nock.cleanAll();
    nock.enableNetConnect();
  };
}

let nextSnowflake = 1200000000000000000n;
const snowflake = () => String(++nextSnowflake);

/** One command sent through a transport: milliseconds to its acknowledgement and to its answer. */
interface Transport {
  name: TransportName;
  send(command: string): Promise<{ ackMs: number; answerMs: number; answer: unknown }>;
  close(): Promise<void>;
}

/**
 * Links the user to a Slack and a Discord identity (the Discord link pays its one-time reward:
 * one entry more), then times each command through each transport `repeats` times after a
 * warm-up whose answer must not be an error.
 */
export async function timeTransports(ctx: CoreContext, logger: Logger, userExternalId: string, repeats: number): Promise<TransportTiming[]> {
  await linkedUser(ctx, userExternalId, 'SLACK', slackUserId);
  await linkedUser(ctx, userExternalId, 'DISCORD', discordUserId);
  const results: TransportTiming[] = [];
  for (const start of [startSlack, startDiscord]) {
    const transport = await start(ctx, logger);
    try {
      for (const command of transportCommands) {
        const warm = JSON.stringify((await transport.send(command)).answer);
        const failed = [...Object.values(errorText), 'Something went wrong'].find((text) => warm.includes(text));
        if (failed) throw new Error(`${transport.name} /${command} answered an error: ${failed}`);
        const ack: number[] = [];
        const answer: number[] = [];
        for (let i = 0; i < repeats; i++) {
          const sent = await transport.send(command);
          ack.push(sent.ackMs);
          answer.push(sent.answerMs);
        }
        results.push({ transport: transport.name, command: `/${command}`, ack: summary(ack), answer: summary(answer), repeats });
      }
    } finally {
      await transport.close();
    }
  }
  return results;
}

function summary(times: number[]): { medianMs: number; p95Ms: number } {
  const sorted = [...times].sort((a, b) => a - b);
  return { medianMs: percentile(sorted, 50)!, p95Ms: percentile(sorted, 95)! };
}

/** startChat with a Slack configuration (HTTP mode), its router on the admin app on loopback. */
async function startSlack(ctx: CoreContext, logger: Logger): Promise<Transport> {
  const chat = await startChat({ ctx, logger, config: loadChatConfig({ SLACK_BOT_TOKEN: 'xoxb-bench', SLACK_SIGNING_SECRET: slackSigningSecret }) });
  const app = createApp(ctx, logger, { routers: chat.routers });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}${slackEventsPath}`;
  const sender = new SlackSender();
  let sent = 0;
  return {
    name: 'Slack',
    send: async (command) => {
      const responsePath = `/commands/T1/${++sent}/reply`;
      const body = new URLSearchParams({
        token: 'legacy',
        team_id: 'T1',
        team_domain: 'studio',
        channel_id: 'C1',
        channel_name: 'general',
        user_id: slackUserId,
        user_name: 'bench',
        command: `/${command}`,
        text: '',
        api_app_id: 'A1',
        response_url: `${slackResponseHost}${responsePath}`,
        trigger_id: `${sent}.1.bench`,
      }).toString();
      // Signed as Slack signs it, before the clock starts: the time is the receiving side's.
      const timestamp = Math.floor(Date.now() / 1000);
      const signature = `v0=${createHmac('sha256', slackSigningSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
      const headers = { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature };
      const replied = arrivals.expect(responsePath);
      const { status, startedAt, respondedAt } = await sender.post(url, headers, body);
      if (status !== 200) throw new Error(`Slack /${command}: HTTP ${status}`);
      const reply = await replied;
      return { ackMs: respondedAt - startedAt, answerMs: reply.at - startedAt, answer: reply.body };
    },
    close: async () => {
      await sender.close();
      await new Promise((resolve) => server.close(resolve));
      await chat.close();
    },
  };
}

/**
 * Slack's side of the HTTP request, in a worker thread: the clock stops when the response is in,
 * not when the bot's thread (busy with the command after acknowledging, PGlite's queries running
 * on it) would get round to reading it. node:http with headers and body in one write: through
 * nock's fetch interceptor the body would trail the headers by a delayed ACK (~40 ms on loopback).
 */
const senderSource = `
const { parentPort } = require('node:worker_threads');
const { request } = require('node:http');
const clock = () => performance.timeOrigin + performance.now();
parentPort.on('message', ({ id, url, headers, body }) => {
  const startedAt = clock();
  const sending = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
    response.resume();
    response.on('end', () => parentPort.postMessage({ id, status: response.statusCode, startedAt, respondedAt: clock() }));
  });
  sending.on('error', (error) => parentPort.postMessage({ id, error: String(error) }));
  sending.end(body);
});`;

interface Posted {
  status: number;
  startedAt: number;
  respondedAt: number;
}

class SlackSender {
  private readonly worker = new Worker(senderSource, { eval: true });
  private readonly pending = new Map<number, { resolve(posted: Posted): void; reject(error: Error): void }>();
  private sent = 0;

  constructor() {
    this.worker.on('message', ({ id, error, ...posted }: Posted & { id: number; error?: string }) => {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      if (error) waiting?.reject(new Error(error));
      else waiting?.resolve(posted);
    });
  }

  post(url: string, headers: Record<string, string>, body: string): Promise<Posted> {
    const id = ++this.sent;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, url, headers, body });
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

/** The Discord bot as createDiscordBot builds it, never logged in: raw interactions go straight into its client. */
async function startDiscord(ctx: CoreContext, logger: Logger): Promise<Transport> {
  const bot = createDiscordBot({ ctx, logger, token: 'bench-token', clientOptions: { intents: [], rest: { retries: 0, timeout: arrivalTimeoutMs } } });
  // What the gateway connection does with an INTERACTION_CREATE dispatch.
  const inject = (payload: unknown) =>
    (bot.client as unknown as { actions: { InteractionCreate: { handle(data: unknown): void } } }).actions.InteractionCreate.handle(payload);
  return {
    name: 'Discord',
    send: async (command) => {
      const payload = slashCommandPayload(command);
      const deferred = arrivals.expect(`callback:${payload.token}`);
      const edited = arrivals.expect(`edit:${payload.token}`);
      const started = clock();
      inject(payload);
      const [ack, answer] = await Promise.all([deferred, edited]);
      return { ackMs: ack.at - started, answerMs: answer.at - started, answer: answer.body };
    },
    close: () => bot.close(),
  };
}

/** A slash command with no options, as Discord sends it from a server member without staff rights. */
function slashCommandPayload(name: string) {
  const user = { id: discordUserId, username: 'bench', discriminator: '0', global_name: null, avatar: null };
  return {
    id: snowflake(),
    application_id: discordApplicationId,
    type: 2,
    token: `bench-${snowflake()}`,
    version: 1,
    guild_id: discordGuildId,
    channel_id: discordChannelId,
    channel: { id: discordChannelId, type: 0 },
    member: { user, roles: [], permissions: '0', joined_at: '2024-01-01T00:00:00.000Z', deaf: false, mute: false, flags: 0 },
    app_permissions: '0',
    locale: 'en-GB',
    guild_locale: 'en-GB',
    entitlements: [],
    authorizing_integration_owners: { '0': discordGuildId },
    context: 0,
    data: { id: snowflake(), name, type: 1, options: [] },
  };
}

/** The table: per engine, transport and command, median and p95 of both moments; the acknowledgement's p95 as a share of `deadlineMs` (Slack's and Discord's deadline is for it). */
export function printTransportTable(runs: { engine: string; transports: TransportTiming[] }[], deadlineMs: number): void {
  const ms = (value: number) => value.toFixed(2);
  console.log('');
  for (const [name, moments] of Object.entries(transportMoments)) console.log(`${name}: ack = ${moments.ack}; answer = ${moments.answer}.`);
  console.log(
    `${'engine'.padEnd(10)} ${'transport'.padEnd(9)} ${'command'.padEnd(10)} ${'ack med'.padStart(8)} ${'ack p95'.padStart(8)} ` +
      `${'answer med'.padStart(10)} ${'answer p95'.padStart(10)} ${'ack p95 of 3 s'.padStart(14)}`,
  );
  for (const { engine, transports } of runs) {
    for (const t of transports) {
      const share = `${((t.ack.p95Ms / deadlineMs) * 100).toFixed(1)}%`;
      console.log(
        `${engine.padEnd(10)} ${t.transport.padEnd(9)} ${t.command.padEnd(10)} ${ms(t.ack.medianMs).padStart(8)} ${ms(t.ack.p95Ms).padStart(8)} ` +
          `${ms(t.answer.medianMs).padStart(10)} ${ms(t.answer.p95Ms).padStart(10)} ${share.padStart(14)}`,
      );
    }
  }
}
