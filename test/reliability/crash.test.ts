import { randomInt, randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../core/access/createApiToken.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { purchase } from '../../core/ledger/purchase.js';
import { subscribe } from '../../core/plans/subscribe.js';
import { databaseUrl, freshContext } from '../support/databases.js';
import { freePort } from '../support/freePort.js';
import type { Database } from '../../core/db/database.js';
import { expectAcknowledgedWritesOnce, type SentWrite } from './acknowledgedWrites.js';
import { type CreditkeeperProcess, startCreditkeeper } from './creditkeeperProcess.js';

/**
 * Kill -9 in the middle of a stream of writes, restart, and check that nothing was lost or
 * doubled: a separate Creditkeeper process on PostgreSQL takes concurrent spends, purchases and
 * submissions with their deposit reconciliations, and renews subscriptions three weeks behind
 * (its cron's catch-up at start), is killed at random moments (CRASH_KILLS times; 3 in CI) and
 * restarted, while the client retries every write it has no answer for with the same idempotency
 * key. At the end every acknowledged write is in the ledger exactly once, every entry is one the
 * client asked for, every missed period was granted exactly once, and the invariants hold.
 */
const kills = Number(process.env.CRASH_KILLS ?? 3);

describe('a Creditkeeper process killed mid-stream', () => {
  // Whatever failed, no process the test started outlives it, and its database is dropped.
  let database: Database | undefined;
  let server: CreditkeeperProcess | undefined;
  /** Ends the test's write loops, and its kills, also when it timed out and is still running. */
  let stop = false;
  afterAll(async () => {
    stop = true;
    await server?.kill('SIGKILL');
    await database?.close();
  });

  it(`loses nothing and doubles nothing over ${kills} kills`, async () => {
    const startedAt = Date.now();
    const ctx = await freshContext('postgres');
    database = ctx.db;
    const url = await databaseUrl(ctx);
    const token = (await createApiToken(ctx, { name: 'crash', scopes: ['SERVICE', 'READ'], actor: { kind: 'STAFF', id: 't' } })).secret;
    const accounts: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `crash-${i}` } });
      await purchase(ctx, { accountId, idempotencyKey: 'opening', actor: { kind: 'SYSTEM' }, amount: 1_000_000n });
      accounts.push(accountId);
    }
    const subscribers = 600;
    for (let i = 0; i < subscribers; i++) {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `subscriber-${i}` } });
      await subscribe(ctx, { accountId, idempotencyKey: 'join', actor: { kind: 'SERVICE' }, plan: 'free' });
    }
    // The process was down for three weeks: three weekly periods are due for every subscriber.
    await ctx.db.sql.query(
      `UPDATE subscriptions SET anchor_at = anchor_at - interval '21 days 1 minute', period_start = period_start - interval '21 days 1 minute',
         period_end = period_end - interval '21 days 1 minute'`,
    );
    const port = await freePort();
    server = startCreditkeeper(url, port);
    const sent = new Map<string, SentWrite>();
    const acknowledged = new Set<string>();

    /** Posts until answered (after a crash it either landed or did not), then records it as acknowledged. */
    const write = async (accountId: string, path: string, body: unknown, amount: bigint): Promise<{ depositId?: string } | undefined> => {
      const key = `w-${randomUUID()}`;
      sent.set(key, { accountId, amount });
      for (let tries = 0; tries < 200 && !stop; tries++) {
        const reply = await fetch(`http://127.0.0.1:${port}/v1/accounts/${accountId}/${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(5000),
        }).catch(() => undefined);
        if (reply?.status === 201) {
          acknowledged.add(key);
          return (await reply.json()) as { depositId?: string };
        }
        await reply?.text();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return undefined;
    };
    const worker = async () => {
      while (!stop) {
        const accountId = accounts[randomInt(accounts.length)]!;
        const kind = randomInt(4);
        if (kind === 0) await write(accountId, 'purchases', { amount: 7 }, 7n);
        else if (kind === 1) {
          // A submission (40 + an 8 s clip deposit), then its reconciliation: 6 s delivered, 2 back.
          const submitted = await write(accountId, 'usage', { charge: { action: 'submission', clipSeconds: [8] } }, -48n);
          if (submitted?.depositId) {
            await write(accountId, `deposits/${submitted.depositId}/reconciliation`, { actual: { deliveredSeconds: [6] } }, 2n);
          }
        } else await write(accountId, 'usage', { charge: { action: 'image', quantity: 1 } }, -3n);
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    const dueAtKill: number[] = [];
    const dueNow = async () =>
      (await ctx.db.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM subscriptions WHERE period_end <= now()"))[0]!.n;
    try {
      for (let k = 0; k < kills && !stop; k++) {
        // A random moment of the process's working life: its start-up (seconds on a slow machine) is not counted.
        await server.ready();
        await new Promise((resolve) => setTimeout(resolve, 1500 + randomInt(1500)));
        dueAtKill.push(await dueNow());
        await server.kill('SIGKILL');
        server = startCreditkeeper(url, port);
      }
      await server.ready();
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    // The last process finishes the renewals its start-up run began.
    for (let waited = 0; waited < 30_000 && (await dueNow()) > 0; waited += 200) await new Promise((resolve) => setTimeout(resolve, 200));
    await server.kill('SIGTERM');

    const { written } = await expectAcknowledgedWritesOnce(ctx.db, sent, acknowledged);
    expect(acknowledged.size).toBeGreaterThan(50);

    const renewals = await ctx.db.sql.query<{ period_index: number; grants: number; keys: number }>(
      `SELECT s.period_index, count(e.id)::int AS grants, count(DISTINCT e.idempotency_key)::int AS keys
       FROM subscriptions s LEFT JOIN entries e ON e.account_id = s.account_id AND e.type = 'WEEKLY_GRANT' AND e.idempotency_key LIKE 'renewal:%'
       GROUP BY s.id, s.period_index`,
    );
    expect(renewals).toHaveLength(subscribers);
    for (const r of renewals) expect(r).toEqual({ period_index: 3, grants: 3, keys: 3 });
    console.log(
      `crash test: ${kills} kills, ${acknowledged.size} writes acknowledged, ${written} written, ${subscribers * 3} periods renewed once each ` +
        `(subscriptions still behind at each kill: ${dueAtKill.join(', ')}), 0 lost, 0 doubled, in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );
    // A minute to set up and verify, then 20 s a kill (a restart's start-up takes seconds here): CRASH_KILLS=20 fits.
  }, 60_000 + 20_000 * kills);
});
