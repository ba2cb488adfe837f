import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createApiToken } from '../../core/access/createApiToken.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { purchase } from '../../core/ledger/purchase.js';
import { verifyLedger } from '../../core/ledger/verify.js';
import { freshContext } from '../support/databases.js';
import { freePort } from '../support/freePort.js';

/**
 * Kill -9 in the middle of a stream of writes, restart, and check that nothing was lost or
 * doubled: a separate Creditkeeper process on PostgreSQL takes concurrent spends and purchases,
 * is killed at random moments (CRASH_KILLS times; 3 in CI) and restarted, while the client retries
 * every write it has no answer for with the same idempotency key. At the end every acknowledged
 * write is in the ledger exactly once, every entry is one the client asked for, and the ledger's
 * invariants hold.
 */
const kills = Number(process.env.CRASH_KILLS ?? 3);

describe('a Creditkeeper process killed mid-stream', () => {
  it(`loses nothing and doubles nothing over ${kills} kills`, async () => {
    const ctx = await freshContext('postgres');
    const [row] = await ctx.db.sql.query<{ name: string }>('SELECT current_database() AS name');
    const url = new URL(process.env.TEST_DATABASE_URL!);
    url.pathname = `/${row!.name}`;
    const token = (await createApiToken(ctx, { name: 'crash', scopes: ['SERVICE', 'READ'], actor: { kind: 'STAFF', id: 't' } })).secret;
    const accounts: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `crash-${i}` } });
      await purchase(ctx, { accountId, idempotencyKey: 'opening', actor: { kind: 'SYSTEM' }, amount: 1_000_000n });
      accounts.push(accountId);
    }
    const port = await freePort();
    let server = start(url.toString(), port);
    const acknowledged = new Map<string, { accountId: string; amount: bigint }>();
    const sent = new Set<string>();
    let stop = false;

    const worker = async () => {
      while (!stop) {
        const accountId = accounts[randomInt(accounts.length)]!;
        const key = `w-${randomUUID()}`;
        const isPurchase = randomInt(4) === 0;
        const path = isPurchase ? 'purchases' : 'usage';
        const body = isPurchase ? { amount: 7 } : { charge: { action: 'image', quantity: 1 } };
        sent.add(key);
        // Retry the same request until it is answered: after a crash it either landed or did not.
        for (let tries = 0; tries < 200; tries++) {
          const reply = await fetch(`http://127.0.0.1:${port}/v1/accounts/${accountId}/${path}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(5000),
          }).catch(() => undefined);
          if (reply?.status === 201) {
            acknowledged.set(key, { accountId, amount: isPurchase ? 7n : -3n });
            break;
          }
          await reply?.text();
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    for (let k = 0; k < kills; k++) {
      await new Promise((resolve) => setTimeout(resolve, 1500 + randomInt(1500)));
      server.kill('SIGKILL');
      await new Promise((resolve) => server.once('exit', resolve));
      server = start(url.toString(), port);
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    stop = true;
    await Promise.all(workers);
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));

    try {
      const report = await verifyLedger(ctx.db);
      expect(report.checks.filter((c) => c.violations.length > 0)).toEqual([]);
      const entries = await ctx.db.sql.query<{ idempotency_key: string; account_id: string; amount: string }>(
        `SELECT idempotency_key, account_id, amount::text FROM entries WHERE idempotency_key LIKE 'w-%'`,
      );
      const written = new Map(entries.map((e) => [e.idempotency_key, e]));
      expect(written.size).toBe(entries.length); // one entry per key
      for (const [key, write] of acknowledged) {
        expect(written.get(key), `acknowledged ${key} is missing`).toMatchObject({ account_id: write.accountId, amount: String(write.amount) });
      }
      for (const key of written.keys()) expect(sent.has(key), `${key} was never sent`).toBe(true);
      expect(acknowledged.size).toBeGreaterThan(50);
      console.log(`crash test: ${kills} kills, ${acknowledged.size} writes acknowledged, ${entries.length} written, 0 lost, 0 doubled`);
    } finally {
      await ctx.db.close();
    }
  }, 120_000);
});

function start(databaseUrl: string, port: number): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'cli/creditkeeper.ts', 'start'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), LOG_LEVEL: 'silent', DATABASE_POOL_SIZE: '8' },
    stdio: 'ignore',
  });
}

