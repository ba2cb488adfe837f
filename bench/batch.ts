/**
 * Batch ingestion benchmark: usage events a second through POST /v1/usage/batch (batches of 100
 * and of 1,000) next to single POST …/usage requests, against a Creditkeeper process on
 * PostgreSQL, and next to `pgbench -N -M prepared` on the same server in the same run. Every
 * event is a real ledger write with its own idempotency key; afterwards the ledger is verified
 * and every answered event is counted in the entries.
 *
 * Knobs: BENCH_DATABASE_URL, BENCH_SECONDS (default 10). Results: bench/results/batch-latest.json.
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
import { seedPlans } from '../core/plans/planCatalog.js';
import { seedPriceList } from '../core/pricing/priceList.js';
import { freePort } from '../test/support/freePort.js';
import { findPgbench, pgbenchPreparedTps } from './pgbench.js';
import { createServerDatabase, runBenchmark, untilReady } from './support.js';

const here = dirname(fileURLToPath(import.meta.url));
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const accounts = 1000;
/** Each event is one chat turn (1 credit): ten million outlasts any run. */
const creditsPerAccount = 10_000_000n;

interface Row {
  how: string;
  connections: number;
  eventsPerSecond: number;
  requestsPerSecond: number;
  non2xx: number;
}

async function main(): Promise<void> {
  const database = await createServerDatabase('ck_bench_batch');
  const db = await openDatabase({ kind: 'postgres', url: database.url });
  const ctx = { db, priceList: seedPriceList, plans: seedPlans };
  const port = await freePort();
  const server = fork(join(here, '..', 'cli', 'creditkeeper.ts'), ['start'], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, DATABASE_URL: database.url, DATABASE_POOL_SIZE: '20', PORT: String(port), LOG_LEVEL: 'warn', RATE_LIMIT_PER_TOKEN: '1000000', RENEWAL_SCHEDULE: 'off' },
    stdio: 'pipe',
  });
  try {
    const token = (await createApiToken(ctx, { name: 'bench', scopes: ['SERVICE', 'READ'], actor: { kind: 'STAFF', id: 'bench' } })).secret;
    const ids: string[] = [];
    for (let i = 0; i < accounts; i++) {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `batch-${i}` } });
      await purchase(ctx, { accountId, idempotencyKey: 'seed', actor: { kind: 'SYSTEM' }, amount: creditsPerAccount });
      ids.push(accountId);
    }
    const base = `http://127.0.0.1:${port}`;
    await untilReady(base, server);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const event = () => ({ accountId: ids[Math.floor(Math.random() * ids.length)]!, idempotencyKey: randomUUID(), charge: { action: 'chat', quantity: 1 } });

    const rows: Row[] = [];
    let answeredEvents = 0;
    const measure = async (how: string, connections: number, eventsPerRequest: number, request: autocannon.Request) => {
      const result = await autocannon({ url: base, connections, duration: seconds, requests: [request] });
      answeredEvents += result['2xx'] * eventsPerRequest;
      rows.push({ how, connections, requestsPerSecond: result['2xx'] / result.duration, eventsPerSecond: (result['2xx'] * eventsPerRequest) / result.duration, non2xx: result.non2xx });
    };
    await measure('single POST …/usage', 32, 1, {
      method: 'POST',
      headers,
      body: JSON.stringify({ charge: { action: 'chat', quantity: 1 } }),
      setupRequest: (request) => {
        const { accountId, idempotencyKey } = event();
        return { ...request, path: `/v1/accounts/${accountId}/usage`, headers: { ...request.headers, 'idempotency-key': idempotencyKey } };
      },
    });
    for (const [size, connections] of [[100, 8], [1000, 4]] as const) {
      await measure(`batches of ${size}`, connections, size, {
        method: 'POST',
        path: '/v1/usage/batch',
        headers,
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ events: Array.from({ length: size }, event) }) }),
      });
    }
    const pgbench = findPgbench();
    const pgbenchTps = pgbench ? await pgbenchPreparedTps(pgbench, 8, seconds) : null;

    const single = rows[0]!.eventsPerSecond;
    console.log(`\n${'how'.padEnd(22)} ${'conns'.padStart(5)} ${'requests/s'.padStart(10)} ${'events/s'.padStart(9)} ${'× single'.padStart(8)} ${'× pgbench'.padStart(9)} ${'non-2xx'.padStart(7)}`);
    for (const r of rows) {
      const vsPgbench = pgbenchTps ? (r.eventsPerSecond / pgbenchTps).toFixed(2) : '-';
      console.log(`${r.how.padEnd(22)} ${String(r.connections).padStart(5)} ${r.requestsPerSecond.toFixed(0).padStart(10)} ${r.eventsPerSecond.toFixed(0).padStart(9)} ${(r.eventsPerSecond / single).toFixed(2).padStart(8)} ${vsPgbench.padStart(9)} ${String(r.non2xx).padStart(7)}`);
    }
    console.log(`${'pgbench -N -M prepared'.padEnd(22)} ${'8'.padStart(5)} ${'-'.padStart(10)} ${(pgbenchTps?.toFixed(0) ?? 'absent').padStart(9)}`);

    const report = await verifyLedger(db);
    const usageEntries = await db.prisma.entry.count({ where: { type: 'USAGE' } });
    // An event in flight when a run stops may be written unanswered: entries may exceed the answered events a little.
    console.log(`Ledger after the runs: ${report.ok ? 'sound' : 'INVARIANTS BROKEN'}; ${usageEntries} usage entries for ${answeredEvents} events answered`);
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(join(here, 'results', 'batch-latest.json'), JSON.stringify({ at: new Date().toISOString(), seconds, rows, pgbenchTps, usageEntries, answeredEvents, ledgerSound: report.ok }, null, 2));
    if (!report.ok || usageEntries < answeredEvents) process.exitCode = 1;
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    await db.close();
    await database.drop();
  }
}

await runBenchmark('batch', main);
