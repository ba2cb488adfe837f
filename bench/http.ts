/**
 * HTTP benchmark: requests per second and latency for a usage post and a balance read over
 * loopback, on PostgreSQL (autocannon, in this process; the server in another), next to the core's
 * own spend rate from the same run. Every usage post carries a fresh Idempotency-Key, so each one
 * is a real ledger write; afterwards the ledger is verified.
 *
 * Runs, in order:
 *   - core: the `spend` use-case called in this process by 32 async workers for BENCH_SECONDS, over
 *     the same accounts and with the same pool size as the server: the rate HTTP is measured against.
 *   - defaults: a server as a user starts it (LOG_LEVEL and RATE_LIMIT_PER_TOKEN unset: info logs,
 *     500 requests a second per token, bursts of 1,000), posts then reads at 32 connections. With one
 *     token the limit, not the server, sets the pace: 429s are counted apart.
 *   - raised limit: the same but RATE_LIMIT_PER_TOKEN=1000000 (logs still at info), each request alone
 *     at 1 and 32 connections, then a sustained mixed load for BENCH_LOAD_SECONDS: usage posts on 8
 *     connections and balance reads on 24 at the same time, reported per kind and in total.
 * The HTTP/core ratio divides 2xx usage posts a second at 32 connections by the core's spends a
 * second at 32 workers. The server's logs go to a file, as a process manager would keep them.
 * Latency percentiles are computed here from every 2xx response's time (autocannon's own summary
 * has p97.5 but no p95). Requests spread over 1,000 accounts holding enough credits for any run.
 *
 * Knobs: BENCH_DATABASE_URL, BENCH_SECONDS (default 10), BENCH_LOAD_SECONDS (default 60),
 * BENCH_CPU_PROF (a directory: the raised-limit server writes a V8 CPU profile there, --cpu-prof).
 * Results: bench/results/http-latest.json.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createApiToken } from '../core/access/createApiToken.js';
import { openAccount } from '../core/accounts/openAccount.js';
import type { CoreContext } from '../core/context.js';
import { openDatabase } from '../core/db/database.js';
import { purchase } from '../core/ledger/purchase.js';
import { verifyLedger } from '../core/ledger/verify.js';
import { seedPriceList } from '../core/pricing/priceList.js';
import { seedPlans } from '../core/plans/planCatalog.js';
import { measureSpends, spendCharge } from './spendWorkers.js';
import { createServerDatabase, percentile, runBenchmark, untilReady } from './support.js';
import { freePort } from '../test/support/freePort.js';

const here = dirname(fileURLToPath(import.meta.url));
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const loadSeconds = Number(process.env.BENCH_LOAD_SECONDS ?? 60);
const cpuProfileDir = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
const accounts = 1000;
/** 3 credits a post: ten million lasts any account far beyond a minute at thousands of posts a second. */
const creditsPerAccount = 10_000_000n;
const loadConnections = { usage: 8, balance: 24 };
const concurrency = 32;
/** The server's and the core run's pool: the same, so the ratio compares the layers above it. */
const poolSize = 40;

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
  /** The server's CPU time (user + system) over the run, where /proc tells it. */
  serverCpuMs?: number | null;
}

async function main(): Promise<void> {
  const database = await createServerDatabase('ck_bench_http');
  const db = await openDatabase({ kind: 'postgres', url: database.url, poolSize });
  const ctx = { db, priceList: seedPriceList, plans: seedPlans };
  const logDir = mkdtempSync(join(tmpdir(), 'ck-bench-http-'));
  const servers: ChildProcess[] = [];
  try {
    const token = (await createApiToken(ctx, { name: 'bench', scopes: ['SERVICE', 'READ'], actor: { kind: 'STAFF', id: 'bench' } })).secret;
    const ids: string[] = [];
    for (let i = 0; i < accounts; i++) {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `bench-${i}` } });
      await purchase(ctx, { accountId, idempotencyKey: 'seed', actor: { kind: 'SYSTEM' }, amount: creditsPerAccount });
      ids.push(accountId);
    }
    console.log(`core: spend from ${concurrency} workers in this process, ${seconds} s…`);
    const core = await coreSpends(ctx, ids);
    const coreRate = core.spends / core.seconds;
    const results: ReturnType<typeof summarise>[] = [];
    let usagePostsSucceeded = core.spends;

    const start = async (name: string, env: Record<string, string>, profile: boolean) => {
      const port = await freePort();
      const log = openSync(join(logDir, `${name}.log`), 'w');
      let stderr = '';
      // A user's server: whatever the bench's own environment says about logs and limits does not leak in.
      const { LOG_LEVEL: _level, RATE_LIMIT_PER_TOKEN: _limit, ...inherited } = process.env;
      const server = fork(join(here, '..', 'cli', 'creditkeeper.ts'), ['start'], {
        execArgv: ['--import', 'tsx', ...(profile && cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : [])],
        env: { ...inherited, DATABASE_URL: database.url, DATABASE_POOL_SIZE: String(poolSize), PORT: String(port), RENEWAL_SCHEDULE: 'off', ...env },
        stdio: ['ignore', log, 'pipe', 'ipc'],
      });
      closeSync(log);
      server.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
      servers.push(server);
      const base = `http://127.0.0.1:${port}`;
      await untilReady(base, server, () => stderr);
      return { base, server };
    };
    type Started = Awaited<ReturnType<typeof start>>;
    const posts = (target: Started, connections: number) => withServerCpu(target.server, () => measure({ url: target.base, connections, duration: seconds, requests: [usagePostRequest(token, ids)] }));
    const reads = (target: Started, connections: number) => withServerCpu(target.server, () => measure({ url: target.base, connections, duration: seconds, requests: [balanceReadRequest(token, ids)] }));

    console.log('defaults: LOG_LEVEL and RATE_LIMIT_PER_TOKEN unset…');
    const defaults = await start('defaults', {}, false);
    const defaultPosts = await posts(defaults, concurrency);
    usagePostsSucceeded += defaultPosts.succeeded;
    results.push(summarise('defaults', 'POST usage', concurrency, defaultPosts), summarise('defaults', 'GET balance', concurrency, await reads(defaults, concurrency)));
    await stop(servers.pop()!);

    console.log('raised limit: RATE_LIMIT_PER_TOKEN=1000000…');
    const raised = await start('raised', { RATE_LIMIT_PER_TOKEN: '1000000' }, true);
    for (const connections of [1, concurrency]) {
      const run = await posts(raised, connections);
      usagePostsSucceeded += run.succeeded;
      results.push(summarise('raised limit', 'POST usage', connections, run), summarise('raised limit', 'GET balance', connections, await reads(raised, connections)));
    }
    console.log(`sustained mixed load: ${loadSeconds} s, usage posts on ${loadConnections.usage} connections, balance reads on ${loadConnections.balance}…`);
    const mixed = await withServerCpu(raised.server, async () => {
      const runs = await Promise.all([
        measure({ url: raised.base, connections: loadConnections.usage, duration: loadSeconds, requests: [usagePostRequest(token, ids)] }),
        measure({ url: raised.base, connections: loadConnections.balance, duration: loadSeconds, requests: [balanceReadRequest(token, ids)] }),
      ]);
      return combine(...runs);
    });
    const [mixedPosts, mixedReads] = mixed.parts as [Measured, Measured];
    usagePostsSucceeded += mixedPosts.succeeded;
    results.push(
      summarise('raised limit', 'mixed POST usage', loadConnections.usage, mixedPosts),
      summarise('raised limit', 'mixed GET balance', loadConnections.balance, mixedReads),
      summarise('raised limit', 'mixed total', loadConnections.usage + loadConnections.balance, mixed),
    );
    await stop(servers.pop()!);

    const ratioOf = (server: string) => results.find((r) => r.server === server && r.request === 'POST usage' && r.connections === concurrency)!.succeededPerSecond / coreRate;
    const core32 = { server: 'in process', request: 'core spend', connections: concurrency, responses: core.spends + core.errors, succeededPerSecond: coreRate, ...core.latency, serverCpuMsPerResponse: null, non2xx: core.errors, errors: 0 };
    console.log(`\n${'server'.padEnd(12)} ${'request'.padEnd(18)} ${'conns'.padStart(5)} ${'requests'.padStart(9)} ${'2xx/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p95 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'cpu ms'.padStart(7)} ${'non-2xx'.padStart(8)} ${'errors'.padStart(7)}`);
    for (const r of [core32, ...results]) {
      console.log(`${r.server.padEnd(12)} ${r.request.padEnd(18)} ${String(r.connections).padStart(5)} ${String(r.responses).padStart(9)} ${r.succeededPerSecond.toFixed(0).padStart(8)} ${ms(r.p50)} ${ms(r.p95)} ${ms(r.p99)} ${ms(r.serverCpuMsPerResponse)} ${String(r.non2xx).padStart(8)} ${String(r.errors).padStart(7)}`);
    }
    const ratios = { defaults: ratioOf('defaults'), raisedLimit: ratioOf('raised limit') };
    console.log(`HTTP usage posts / core spends at ${concurrency}: ${ratios.raisedLimit.toFixed(2)}× with the raised limit, ${ratios.defaults.toFixed(2)}× at the defaults (429s there: ${defaultPosts.statusCodes['429'] ?? 0})`);
    const logLines = ['defaults', 'raised'].map((name) => readFileSync(join(logDir, `${name}.log`), 'utf8').split('\n').length - 1);
    console.log(`Server log lines at info: ${logLines[0]} (defaults), ${logLines[1]} (raised limit)`);
    const report = await verifyLedger(db);
    // A post in flight when a run stops may still be written unanswered: entries can exceed the 2xx posts
    // by up to one per connection per run.
    const usageEntries = await db.prisma.entry.count({ where: { type: 'USAGE' } });
    console.log(`Ledger after the runs: ${report.ok ? 'sound' : 'INVARIANTS BROKEN'} (${report.entries} entries; ${usageEntries} usage entries for ${usagePostsSucceeded} core spends and usage posts answered 2xx)`);
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(
      join(here, 'results', 'http-latest.json'),
      JSON.stringify({ at: new Date().toISOString(), seconds, loadSeconds, loadConnections, poolSize, core: core32, results, ratios, usageEntries, usagePostsSucceeded, ledgerSound: report.ok }, null, 2),
    );
  } finally {
    for (const server of servers) await stop(server);
    rmSync(logDir, { recursive: true, force: true });
    await db.close();
    await database.drop();
  }
}

/** Runs `run` and adds the server's CPU time over it (Linux's /proc; null elsewhere). */
async function withServerCpu<T extends Measured>(server: ChildProcess, run: () => Promise<T>): Promise<T> {
  const before = cpuMsOf(server);
  const measured = await run();
  const after = cpuMsOf(server);
  measured.serverCpuMs = before !== null && after !== null ? after - before : null;
  return measured;
}

/** A process's user + system CPU time in ms, from /proc/<pid>/stat (fields 14 and 15, in clock ticks of 10 ms). */
function cpuMsOf(server: ChildProcess): number | null {
  try {
    const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

async function stop(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
}

/** The core's own rate: `spend` from `concurrency` workers back to back, each on a random account. */
async function coreSpends(ctx: CoreContext, ids: string[]) {
  const measured = await measureSpends(ctx, concurrency, seconds, () => randomAccount(ids));
  const sorted = [...measured.latenciesMs].sort((x, y) => x - y);
  const errors = Object.values(measured.errors).reduce((sum, n) => sum + n, 0);
  return { spends: measured.operations, errors, seconds: measured.seconds, latency: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) } };
}

/** A usage post (`image` × 1) on a random account, with a fresh Idempotency-Key: a new ledger write every time. */
function usagePostRequest(token: string, ids: string[]): autocannon.Request {
  return {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ charge: spendCharge }),
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
function combine(...runs: Measured[]): Measured & { parts: Measured[] } {
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
    parts: runs,
  };
}

function summarise(server: string, request: string, connections: number, run: Measured) {
  const sorted = [...run.latenciesMs].sort((a, b) => a - b);
  return {
    server,
    request,
    connections,
    responses: run.responses,
    requestsPerSecond: run.responses / run.seconds,
    succeededPerSecond: run.succeeded / run.seconds,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    serverCpuMsPerResponse: run.serverCpuMs != null && run.responses > 0 ? run.serverCpuMs / run.responses : null,
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
