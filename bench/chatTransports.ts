/**
 * Chat commands timed through the real transports (issue 5): from a signed Slack request
 * arriving to its HTTP response and to the reply on its response_url, and from an injected
 * Discord interaction to its callback (the deferral Discord's 3-second deadline is about) and to
 * the edit that carries the answer.
 *
 * Slack is the transport startChat starts from a Slack configuration, mounted on the admin app
 * and listening on loopback; Discord is the bot createDiscordBot builds (a discord.js Client with
 * the real interaction listener, never logged in) fed raw INTERACTION_CREATE payloads. Loopback
 * servers stand in for slack.com, the response_url host and discord.com (the tests' stand-ins, in
 * test/bot/chatTransportSupport.ts), and note when each request reaches them.
 */
import { discordApiUrl, discordInteractionApi, discordSlashCommand, injectInteraction, linkedUser, requestBody, resetChatApis, signedSlackRequest, slackResponsePath, slackResponseUrls, slackSlashCommand, slackWebApi, startSlackOnLoopback } from '../test/bot/chatTransportSupport.js';
import { Worker } from 'node:worker_threads';
import type { CoreContext } from '../core/context.js';
import type { Logger } from '../core/logger.js';
import { createDiscordBot } from '../bot/discord/discordBot.js';
import { errorText } from '../bot/errorText.js';
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

const slackUserId = 'UBENCH01';
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
    const body = await requestBody(request);
    this.waiting.get(key)?.({ at, body });
    this.waiting.delete(key);
  }
}

const arrivals = new Arrivals();

/** Slack's Web API and response URLs, and Discord's interaction endpoints, answered on their loopback stand-ins. Returns the undo. */
export function answerChatApis(): () => void {
  slackWebApi();
  slackResponseUrls((path, request) => arrivals.arrived(path, request));
  discordInteractionApi((call, token, request) => arrivals.arrived(`${call}:${token}`, request));
  return () => void resetChatApis();
}

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
  const slack = await startSlackOnLoopback(ctx, logger);
  const sender = new SlackSender();
  return {
    name: 'Slack',
    send: async (command) => {
      const form = slackSlashCommand(slackUserId, `/${command}`);
      // Signed as Slack signs it, before the clock starts: the time is the receiving side's.
      const { headers, body } = signedSlackRequest(form);
      const replied = arrivals.expect(slackResponsePath(form));
      const { status, startedAt, respondedAt } = await sender.post(slack.eventsUrl, headers, body);
      if (status !== 200) throw new Error(`Slack /${command}: HTTP ${status}`);
      const reply = await replied;
      return { ackMs: respondedAt - startedAt, answerMs: reply.at - startedAt, answer: reply.body };
    },
    close: async () => {
      await sender.close();
      await slack.close();
    },
  };
}

/**
 * Slack's side of the HTTP request, in a worker thread: the clock stops when the response is in,
 * not when the bot's thread (busy with the command after acknowledging, PGlite's queries running
 * on it) would get round to reading it. node:http with headers and body in one write: a body
 * trailing its headers could wait for a delayed ACK (~40 ms on loopback).
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
  const bot = createDiscordBot({ ctx, logger, token: 'bench-token', apiUrl: discordApiUrl, clientOptions: { intents: [], rest: { retries: 0, timeout: arrivalTimeoutMs } } });
  return {
    name: 'Discord',
    send: async (command) => {
      // A slash command with no options, from a server member without staff rights.
      const payload = discordSlashCommand({ id: discordUserId }, command);
      const deferred = arrivals.expect(`callback:${payload.token}`);
      const edited = arrivals.expect(`edit:${payload.token}`);
      const started = clock();
      injectInteraction(bot.client, payload);
      const [ack, answer] = await Promise.all([deferred, edited]);
      return { ackMs: ack.at - started, answerMs: answer.at - started, answer: answer.body };
    },
    close: () => bot.close(),
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
