import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../core/access/createApiToken.js';
import { autoReloadChargeKey } from '../../core/billing/autoReloadCharges.js';
import { setAutoReload } from '../../core/billing/autoReloadSettings.js';
import type { CoreContext } from '../../core/context.js';
import { client } from '../support/api.js';
import { databaseUrl, freshContext } from '../support/databases.js';
import { freePort } from '../support/freePort.js';
import { expectLedgerSound, newUserAccount } from '../support/scenario.js';
import { LoopbackHost } from './loopbackHost.js';

/**
 * A Creditkeeper process (a real one, `creditkeeper start` on PostgreSQL) killed with SIGKILL
 * after the host charged the card and before its answer arrived: the ledger has the attempt
 * (PENDING) and nothing else. A restarted process settles it: its settler (run by the cron at
 * start and then every second) asks the host again under the same key, or the host confirms it
 * over the API; either way the one charge is credited once, and the spend's retry uses it.
 */
describe('an auto-reload charge whose Creditkeeper process was killed mid-charge', () => {
  let ctx: CoreContext;
  let url: string;
  let token: string;
  const host = new LoopbackHost();
  let server: ChildProcess | undefined;
  beforeAll(async () => {
    ctx = await freshContext('postgres');
    url = await databaseUrl(ctx);
    token = (await createApiToken(ctx, { name: 'charge-crash', scopes: ['SERVICE', 'READ'], actor: { kind: 'STAFF', id: 't' } })).secret;
    await host.start();
  });
  afterAll(async () => {
    server?.kill('SIGKILL');
    host.close();
    await expectLedgerSound(ctx);
    await ctx.db.close();
  });

  /** Spends 40 on an empty account (top-ups of 50) through a process the host kills once it has charged. */
  async function spendKilledMidCharge(port: number) {
    const accountId = await newUserAccount(ctx);
    await setAutoReload(ctx, { accountId, enabled: true, amount: 50n, monthlyLimit: 100n });
    const spendKey = `${accountId}:chat`;
    const chargeKey = autoReloadChargeKey(spendKey);
    host.answer = (_key, earlier) => (earlier === 0 ? 'charge and hang' : 'charge');
    const doomed = start(port, '* * * * * *');
    server = doomed;
    const killed = new Promise((resolve) => doomed.once('exit', resolve));
    host.onCharged = () => doomed.kill('SIGKILL');
    await ready(port);
    const spend = () =>
      client(`http://127.0.0.1:${port}`, token)('POST', `/v1/accounts/${accountId}/usage`, {
        key: spendKey,
        body: { charge: { amount: 40, category: 'Chat', description: 'A long chat' } },
      });
    await expect(spend()).rejects.toThrow(); // the connection died with the process
    await killed;
    host.onCharged = () => {};
    return { accountId, chargeKey, spend };
  }

  const reservation = (accountId: string, chargeKey: string) =>
    ctx.db.prisma.autoReloadReservation.findUniqueOrThrow({ where: { accountId_idempotencyKey: { accountId, idempotencyKey: chargeKey } } });
  const topUps = (accountId: string) =>
    ctx.db.prisma.entry.findMany({ where: { accountId, type: 'AUTO_RELOAD' } }).then((rows) => rows.map((e) => [e.amount, e.sourceId]));

  it('restarted, its settler asks the host again under the same key: the one charge is credited once (balance 50), and the retried spend leaves 10', async () => {
    const port = await freePort();
    const { accountId, chargeKey, spend } = await spendKilledMidCharge(port);
    expect(await reservation(accountId, chargeKey)).toMatchObject({ status: 'PENDING', attempts: 1, credits: 50n });
    expect(await topUps(accountId)).toEqual([]);
    expect(host.charges.has(chargeKey)).toBe(true);

    // The attempt is abandoned once twice the webhook's 500 ms timeout has passed; the cron runs every second.
    server = start(port, '* * * * * *');
    await ready(port);
    await waitFor(async () => (await reservation(accountId, chargeKey)).status === 'CONFIRMED');
    const chargeId = host.charges.get(chargeKey)!;
    expect(await topUps(accountId)).toEqual([[50n, chargeId]]);
    expect(await reservation(accountId, chargeKey)).toMatchObject({ attempts: 2, chargeId });
    expect(host.requestsFor(chargeKey)).toBe(2);

    const retried = await spend();
    expect([retried.status, retried.body.balance]).toEqual([201, '10']);
    expect(host.requestsFor(chargeKey)).toBe(2);
    expect(await topUps(accountId)).toEqual([[50n, chargeId]]);
    await stop(server);
  }, 180_000);

  it('restarted without a settler (RENEWAL_SCHEDULE=off), /why lists the charge until the host confirms it over the API; confirmed twice, credited once', async () => {
    const port = await freePort();
    const { accountId, chargeKey, spend } = await spendKilledMidCharge(port);
    server = start(port, 'off');
    await ready(port);
    const hostApi = client(`http://127.0.0.1:${port}`, token);
    const why = await hostApi('GET', `/v1/accounts/${accountId}/why`);
    expect(why.body.findings).toContainEqual(
      expect.objectContaining({ kind: 'AUTO_RELOAD_UNSETTLED', count: 1, amount: '50', charges: [expect.objectContaining({ chargeKey, status: 'PENDING', attempts: 1 })] }),
    );

    const chargeId = host.charges.get(chargeKey)!;
    const confirmation = `/v1/accounts/${accountId}/auto-reload/charges/${encodeURIComponent(chargeKey)}/confirmation`;
    for (const n of [1, 2]) {
      const reply = await hostApi('POST', confirmation, { key: `confirm-${n}`, body: { outcome: 'charged', chargeId } });
      expect([reply.status, reply.body.status]).toEqual([200, 'CONFIRMED']);
    }
    expect(await topUps(accountId)).toEqual([[50n, chargeId]]);
    expect((await hostApi('GET', `/v1/accounts/${accountId}/why`)).body.findings.map((f: { kind: string }) => f.kind)).not.toContain('AUTO_RELOAD_UNSETTLED');
    const retried = await spend();
    expect([retried.status, retried.body.balance]).toEqual([201, '10']);
    expect(host.requestsFor(chargeKey)).toBe(1); // the host was never asked again
    await stop(server);
  }, 180_000);

  function start(port: number, schedule: string): ChildProcess {
    return spawn(process.execPath, ['--import', 'tsx', 'cli/creditkeeper.ts', 'start'], {
      env: {
        ...process.env,
        DATABASE_URL: url,
        PORT: String(port),
        LOG_LEVEL: 'silent',
        DATABASE_POOL_SIZE: '4',
        RENEWAL_SCHEDULE: schedule,
        PAYMENT_WEBHOOK_URL: host.url,
        PAYMENT_WEBHOOK_SECRET: 'a-long-shared-secret',
        PAYMENT_WEBHOOK_TIMEOUT_MS: '500',
      },
      stdio: 'ignore',
    });
  }
});

async function stop(server: ChildProcess): Promise<void> {
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
}

/** Waits until the process answers its readiness probe. */
async function ready(port: number): Promise<void> {
  await waitFor(async () => {
    const reply = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
    await reply?.text();
    return reply?.ok === true;
  });
}

/** Polls until `done`, for at most a minute: what it waits on happens in another process. */
async function waitFor(done: () => Promise<boolean>): Promise<void> {
  for (let waited = 0; waited < 60_000; waited += 100) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('still not done after a minute');
}
