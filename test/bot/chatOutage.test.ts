import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../core/access/createApiToken.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import type { CoreContext } from '../../core/context.js';
import { databaseUrl, freshContext } from '../support/databases.js';
import { freePort } from '../support/freePort.js';
import { type ChatPlatformStandIn, standInApiUrls, standInDiscordApplicationId, startChatPlatformStandIn } from './chatPlatformStandIn.js';

/**
 * A chat platform's outage never takes the ledger down: `creditkeeper start` as `npm start` runs
 * it, with Slack's and Discord's APIs pointed at a loopback port that first refuses connections,
 * then accepts and never answers, then answers. Throughout, the API serves and /readyz is 200
 * with chat `degraded`; once the platforms answer, both transports connect without a restart.
 */

/** What the process logs of one transport's status: one entry per change, never per retry. */
type StatusLine = 'connected' | 'unreachable' | 'refused';

interface ServerUnderTest {
  readonly baseUrl: string;
  readonly running: boolean;
  statusLines(label: 'Slack' | 'Discord'): StatusLine[];
  /** The log line saying the token was refused, as the operator reads it. */
  refusalLine(label: 'Slack' | 'Discord'): string | undefined;
  /** Everything the process wrote, as written. */
  log(): string;
  /** SIGTERM, as a deployment stops it; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function startServer(database: string, port: number, platformPort: number): ServerUnderTest {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(SLACK|DISCORD)_/.test(name)));
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/creditkeeper.ts', 'start'], {
    env: {
      ...env,
      DATABASE_URL: database,
      PORT: String(port),
      LOG_LEVEL: 'info',
      SLACK_BOT_TOKEN: 'xoxb-stand-in',
      SLACK_SIGNING_SECRET: 'stand-in-signing-secret',
      DISCORD_TOKEN: 'stand-in-discord-token',
      DISCORD_APPLICATION_ID: standInDiscordApplicationId,
      ...standInApiUrls(platformPort),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => children.delete(child));
  const messages: string[] = [];
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    try {
      messages.push(String((JSON.parse(line) as { msg?: unknown }).msg));
    } catch {
      messages.push(line);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    lines.push(chunk.toString());
    messages.push(chunk.toString());
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    statusLines: (label) =>
      messages.flatMap((message): StatusLine[] => {
        if (message === `${label}: connected`) return ['connected'];
        if (message.startsWith(`${label} is unreachable`)) return ['unreachable'];
        if (message.startsWith(`${label} refused the token`)) return ['refused'];
        return [];
      }),
    refusalLine: (label) => messages.find((message) => message.startsWith(`${label} refused the token`)),
    log: () => lines.join('\n'),
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Polls until `check` passes (it throws until then); a generous deadline, never a fixed wait. */
async function eventually(check: () => Promise<void>, what: string, timeoutMs = 90_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}: ${error instanceof Error ? error.message : String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function readiness(server: ServerUnderTest): Promise<{ status: number; body: { status: string; chat?: Record<string, string> } }> {
  if (!server.running) throw new Error('the Creditkeeper process exited');
  const reply = await fetch(`${server.baseUrl}/readyz`);
  return { status: reply.status, body: (await reply.json()) as { status: string; chat?: Record<string, string> } };
}

/** Waits until /readyz is 200 with the ledger ready and chat as given. */
async function readyWithChat(server: ServerUnderTest, chat: Record<string, string>): Promise<void> {
  await eventually(async () => {
    const { status, body } = await readiness(server);
    expect({ status, ledger: body.status, chat: body.chat }).toEqual({ status: 200, ledger: 'ready', chat });
  }, `/readyz with chat ${JSON.stringify(chat)}`);
}

/** The ledger serves: /healthz, and a token-authenticated balance read. */
async function expectLedgerServes(server: ServerUnderTest, ledger: { token: string; accountId: string }): Promise<void> {
  expect(server.running).toBe(true);
  expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
  const balance = await fetch(`${server.baseUrl}/v1/accounts/${ledger.accountId}/balance`, { headers: { authorization: `Bearer ${ledger.token}` } });
  expect(balance.status).toBe(200);
  expect(await balance.json()).toMatchObject({ accountId: ledger.accountId, available: '0' });
}

describe('creditkeeper start while Slack and Discord are down', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  async function ledgerWithToken(): Promise<{ ctx: CoreContext; database: string; token: string; accountId: string }> {
    const ctx = await freshContext('postgres');
    cleanups.push(() => ctx.db.close());
    const token = (await createApiToken(ctx, { name: 'outage', scopes: ['READ'], actor: { kind: 'STAFF', id: 't' } })).secret;
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'u_outage' } });
    return { ctx, database: await databaseUrl(ctx), token, accountId };
  }

  it('serves the ledger while chat is refused, then hangs, and connects chat without a restart once the platforms answer', { timeout: 240_000 }, async () => {
    const ledger = await ledgerWithToken();
    const platformPort = await freePort();
    const server = startServer(ledger.database, await freePort(), platformPort);
    cleanups.push(async () => void (await server.stop()));

    // Nothing listens on the platforms' port: every connection is refused.
    await readyWithChat(server, { slack: 'degraded', discord: 'degraded' });
    await expectLedgerServes(server, ledger);

    // Now something accepts the connections and never answers.
    const standIn: ChatPlatformStandIn = await startChatPlatformStandIn(platformPort, 'hang');
    cleanups.push(() => standIn.close());
    await eventually(async () => {
      expect(standIn.requests).toEqual(expect.arrayContaining(['slack auth.test', 'discord /users/@me']));
    }, 'both transports to try the hanging platforms');
    const { status, body } = await readiness(server);
    expect({ status, chat: body.chat }).toEqual({ status: 200, chat: { slack: 'degraded', discord: 'degraded' } });
    await expectLedgerServes(server, ledger);

    // The platforms answer: Slack's auth.test and Discord's REST, gateway and READY.
    standIn.setMode('answer');
    await readyWithChat(server, { slack: 'ok', discord: 'ok' });
    expect(standIn.requests).toContain('discord gateway');
    await expectLedgerServes(server, ledger);
    // Many failed attempts, one line when each went down and one when it came back.
    expect(server.statusLines('Slack')).toEqual(['unreachable', 'connected']);
    expect(server.statusLines('Discord')).toEqual(['unreachable', 'connected']);

    // Discord resets the token: the open gateway closes with 4004 and the reconnect's token check is refused.
    standIn.setMode('revoked');
    await readyWithChat(server, { slack: 'ok', discord: 'unauthorized' });
    expect(server.statusLines('Discord').slice(2)).toEqual(['unreachable', 'refused']);
    await expectLedgerServes(server, ledger);
    // Chat never holds up a clean shutdown, connected or not.
    expect(await server.stop()).toBe(0);
  });

  it('says once, clearly, that a platform refused the token, and keeps the ledger ready', { timeout: 120_000 }, async () => {
    const ledger = await ledgerWithToken();
    const platformPort = await freePort();
    const standIn = await startChatPlatformStandIn(platformPort, 'revoked');
    cleanups.push(() => standIn.close());
    const server = startServer(ledger.database, await freePort(), platformPort);
    cleanups.push(async () => void (await server.stop()));

    await readyWithChat(server, { slack: 'unauthorized', discord: 'unauthorized' });
    await expectLedgerServes(server, ledger);
    expect(server.statusLines('Slack')).toEqual(['refused']);
    expect(server.statusLines('Discord')).toEqual(['refused']);
    expect(server.refusalLine('Slack')).toContain('invalid_auth');
    expect(server.refusalLine('Slack')).toContain('retrying every 5 minutes');
    expect(server.refusalLine('Discord')).toContain('401');
    // Saying the token was refused never says the token.
    for (const secret of ['xoxb-stand-in', 'stand-in-discord-token', 'stand-in-signing-secret']) expect(server.log()).not.toContain(secret);
    expect(await server.stop()).toBe(0);
  });
});
