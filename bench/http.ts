/**
 * HTTP benchmark: requests per second and latency for a usage post and a balance read over
 * loopback, on PostgreSQL (autocannon, in this process; the server in another). Every usage post
 * carries a fresh Idempotency-Key, so each one is a real ledger write; afterwards the ledger is
 * verified.
 *
 * Runs: each request alone at 1 and 32 connections for BENCH_SECONDS; then a sustained mixed load
 * for BENCH_LOAD_SECONDS: usage posts on 8 connections and balance reads on 24 at the same time
 * (one writer for every three readers, 32 connections in all), reported per kind and in total.
 * Latency percentiles are computed here from every 2xx response's time (autocannon's own summary
 * has p97.5 but no p95). Requests spread over 1,000 accounts holding enough credits for any run.
 *
 * Knobs: BENCH_DATABASE_URL, BENCH_SECONDS (default 10), BENCH_LOAD_SECONDS (default 60).
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
import { createServerDatabase, percentile, runBenchmark, untilReady } from './support.js';
import { freePort } from '../test/support/freePort.js';

const here = dirname(fileURLToPath(import.meta.url));
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const loadSeconds = Number(process.env.BENCH_LOAD_SECONDS ?? 60);
const accounts = 1000;
/** 3 credits a post: ten million lasts any account far beyond a minute at thousands of posts a second. */
const creditsPerAccount = 10_000_000n;
const loadConnections = { usage: 8, balance: 24 };

/** One autocannon run, with every 2xx response's latency kept for percentiles. */
interface Measured {
  responses: number;
  /** Responses with a 2xx status. */
  succeeded: number;
  seconds: number;
  latenciesMs: number[];
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
}

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
      await purchase(ctx, { accountId, idempotencyKey: 'seed', actor: { kind: 'SYSTEM' }, amount: creditsPerAccount });
      ids.push(accountId);
    }
    const base = `http://127.0.0.1:${port}`;
    await untilReady(base, server);
    const usagePost = usagePostRequest(token, ids);
    const balanceRead = balanceReadRequest(token, ids);
    const results = [];
    let usagePostsSucceeded = 0;
    for (const connections of [1, 32]) {
      const posts = await measure({ url: base, connections, duration: seconds, requests: [usagePost] });
      usagePostsSucceeded += posts.succeeded;
      results.push(summarise('POST usage', connections, posts));
      results.push(summarise('GET balance', connections, await measure({ url: base, connections, duration: seconds, requests: [balanceRead] })));
    }
    console.log(`sustained mixed load: ${loadSeconds} s, usage posts on ${loadConnections.usage} connections, balance reads on ${loadConnections.balance}…`);
    const [posts, reads] = await Promise.all([
      measure({ url: base, connections: loadConnections.usage, duration: loadSeconds, requests: [usagePost] }),
      measure({ url: base, connections: loadConnections.balance, duration: loadSeconds, requests: [balanceRead] }),
    ]);
    usagePostsSucceeded += posts.succeeded;
    results.push(
      summarise('mixed POST usage', loadConnections.usage, posts),
      summarise('mixed GET balance', loadConnections.balance, reads),
      summarise('mixed total', loadConnections.usage + loadConnections.balance, combine(posts, reads)),
    );

    console.log(`\n${'request'.padEnd(18)} ${'conns'.padStart(5)} ${'requests'.padStart(9)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p95 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'non-2xx'.padStart(8)} ${'errors'.padStart(7)}`);
    for (const r of results) {
      console.log(`${r.request.padEnd(18)} ${String(r.connections).padStart(5)} ${String(r.responses).padStart(9)} ${r.requestsPerSecond.toFixed(0).padStart(8)} ${ms(r.p50)} ${ms(r.p95)} ${ms(r.p99)} ${String(r.non2xx).padStart(8)} ${String(r.errors).padStart(7)}`);
    }
    const report = await verifyLedger(db);
    // A post in flight when a run stops may still be written unanswered: entries can exceed the 2xx posts
    // by up to one per connection per run.
    const usageEntries = await db.prisma.entry.count({ where: { type: 'USAGE' } });
    console.log(`Ledger after the runs: ${report.ok ? 'sound' : 'INVARIANTS BROKEN'} (${report.entries} entries; ${usageEntries} usage entries for ${usagePostsSucceeded} usage posts answered 2xx)`);
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(
      join(here, 'results', 'http-latest.json'),
      JSON.stringify({ at: new Date().toISOString(), seconds, loadSeconds, loadConnections, results, usageEntries, usagePostsSucceeded, ledgerSound: report.ok }, null, 2),
    );
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    await db.close();
    await database.drop();
  }
}

/** A usage post (`image` × 1) on a random account, with a fresh Idempotency-Key: a new ledger write every time. */
function usagePostRequest(token: string, ids: string[]): autocannon.Request {
  return {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ charge: { action: 'image', quantity: 1 } }),
    setupRequest: (request) => ({
      ...request,
      path: `/v1/accounts/${randomAccount(ids)}/usage`,
      headers: { ...request.headers, 'idempotency-key': randomUUID() },
    }),
  };
}

function balanceReadRequest(token: string, ids: string[]): autocannon.Request {
  return {
    method: 'GET',
    headers: { authorization: `Bearer ${token}` },
    setupRequest: (request) => ({ ...request, path: `/v1/accounts/${randomAccount(ids)}/balance` }),
  };
}

function randomAccount(ids: string[]): string {
  return ids[Math.floor(Math.random() * ids.length)]!;
}

function measure(options: autocannon.Options): Promise<Measured> {
  const latenciesMs: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) => {
      if (error) return reject(error);
      const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count ?? 0]));
      resolve({ responses: result.requests.total, succeeded: result['2xx'], seconds: result.duration, latenciesMs, non2xx: result.non2xx, errors: result.errors, statusCodes });
    });
    // autocannon's own latency histogram, likewise, counts only 2xx responses.
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latenciesMs.push(responseTime);
    });
  });
}

/** Runs made at the same time, as one: their responses and errors add up over the longer duration. */
function combine(...runs: Measured[]): Measured {
  const statusCodes: Record<string, number> = {};
  for (const run of runs) for (const [code, count] of Object.entries(run.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
  return {
    responses: runs.reduce((sum, run) => sum + run.responses, 0),
    succeeded: runs.reduce((sum, run) => sum + run.succeeded, 0),
    seconds: Math.max(...runs.map((run) => run.seconds)),
    latenciesMs: runs.flatMap((run) => run.latenciesMs),
    non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    statusCodes,
  };
}

function summarise(request: string, connections: number, run: Measured) {
  const sorted = [...run.latenciesMs].sort((a, b) => a - b);
  return {
    request,
    connections,
    responses: run.responses,
    requestsPerSecond: run.responses / run.seconds,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    non2xx: run.non2xx,
    errors: run.errors,
    statusCodes: run.statusCodes,
  };
}

/** A latency for the table: '—' when no request succeeded. */
function ms(value: number | null): string {
  return (value === null ? '—' : value.toFixed(1)).padStart(7);
}

await runBenchmark('http', main);
