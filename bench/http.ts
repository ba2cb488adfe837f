/**
 * HTTP benchmark: requests per second and latency for a usage post and a balance read over
 * loopback, on PostgreSQL, at 1 and 32 connections (autocannon, in this process; the server in
 * another). Every usage post carries a fresh Idempotency-Key, so each one is a real ledger
 * write; afterwards the ledger is verified. Knobs: BENCH_DATABASE_URL, BENCH_SECONDS (default 10).
 * Results: bench/results/http-latest.json.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createApiToken } from '../core/access/createApiToken.js';
import { openAccount } from '../core/accounts/openAccount.js';
import { openDatabase } from '../core/db/database.js';
import { purchase } from '../core/ledger/purchase.js';
import { verifyLedger } from '../core/ledger/verify.js';
import { seedPriceList } from '../core/pricing/priceList.js';
import { seedPlans } from '../core/plans/planCatalog.js';
import { createServerDatabase } from './support.js';
import { freePort } from '../test/support/freePort.js';

const here = dirname(fileURLToPath(import.meta.url));
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const accounts = 1000;

async function main(): Promise<void> {
  const database = await createServerDatabase('ck_bench_http');
  const db = await openDatabase({ kind: 'postgres', url: database.url });
  const ctx = { db, priceList: seedPriceList, plans: seedPlans };
  const port = await freePort();
  const server = fork(join(here, '..', 'cli', 'creditkeeper.ts'), ['start'], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, DATABASE_URL: database.url, DATABASE_POOL_SIZE: '40', PORT: String(port), LOG_LEVEL: 'warn', RATE_LIMIT_PER_TOKEN: '1000000' },
    stdio: 'pipe',
  });
  try {
    const token = (await createApiToken(ctx, { name: 'bench', scopes: ['SERVICE', 'READ'], actor: { kind: 'STAFF', id: 'bench' } })).secret;
    const ids: string[] = [];
    for (let i = 0; i < accounts; i++) {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `bench-${i}` } });
      await purchase(ctx, { accountId, idempotencyKey: 'seed', actor: { kind: 'SYSTEM' }, amount: 10_000_000n });
      ids.push(accountId);
    }
    const base = `http://127.0.0.1:${port}`;
    await untilHealthy(base);
    const results = [];
    for (const connections of [1, 32]) {
      results.push(
        summarise('POST usage', connections, await run({
          url: base,
          connections,
          duration: seconds,
          requests: [
            {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ charge: { action: 'image', quantity: 1 } }),
              setupRequest: (request) => ({
                ...request,
                path: `/v1/accounts/${ids[Math.floor(Math.random() * ids.length)]}/usage`,
                headers: { ...request.headers, 'idempotency-key': randomUUID() },
              }),
            },
          ],
        })),
      );
      results.push(
        summarise('GET balance', connections, await run({
          url: base,
          connections,
          duration: seconds,
          requests: [
            {
              method: 'GET',
              headers: { authorization: `Bearer ${token}` },
              setupRequest: (request) => ({ ...request, path: `/v1/accounts/${ids[Math.floor(Math.random() * ids.length)]}/balance` }),
            },
          ],
        })),
      );
    }
    console.log(`\n${'request'.padEnd(14)} ${'conns'.padStart(5)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p97.5 ms'.padStart(8)} ${'p99 ms'.padStart(7)} ${'non-2xx'.padStart(8)} ${'errors'.padStart(7)}`);
    for (const r of results) {
      console.log(`${r.request.padEnd(14)} ${String(r.connections).padStart(5)} ${r.requestsPerSecond.toFixed(0).padStart(8)} ${r.p50.toFixed(1).padStart(7)} ${r.p97_5.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(7)} ${String(r.non2xx).padStart(8)} ${String(r.errors).padStart(7)}`);
    }
    const report = await verifyLedger(db);
    console.log(`Ledger after the runs: ${report.ok ? 'sound' : 'INVARIANTS BROKEN'} (${report.entries} entries)`);
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(join(here, 'results', 'http-latest.json'), JSON.stringify({ at: new Date().toISOString(), seconds, results, ledgerSound: report.ok }, null, 2));
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    await db.close();
    await database.drop();
  }
}

function run(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

function summarise(request: string, connections: number, result: autocannon.Result) {
  const latency = result.latency as unknown as Record<string, number>;
  return {
    request,
    connections,
    requestsPerSecond: result.requests.average,
    p50: latency.p50!,
    // autocannon reports p97.5, not p95: the nearest it has, and the stricter one.
    p97_5: latency.p97_5!,
    p99: latency.p99!,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

async function untilHealthy(base: string): Promise<void> {
  for (let attempt = 0; attempt < 150; attempt++) {
    const ok = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the server did not become healthy in 30 s');
}

await main();
