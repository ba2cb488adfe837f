/**
 * Soak benchmark: a Creditkeeper server started by `npm start`, as deployed, under mixed HTTP load
 * for BENCH_SOAK_MINUTES, on the embedded database and on PostgreSQL, with its resident memory
 * (VmRSS of the server process, npm's child, read from /proc) printed at every sample: idle before
 * the load, after every sample interval of load, and idle again after it. Memory that keeps growing
 * under a steady load is a leak; memory that levels off is a cache reaching its size.
 *
 * The load: BENCH_SOAK_CONNECTIONS connections, each request one of spends (POST …/usage, 60 %),
 * purchases (POST …/purchases, 5 %), balance reads (15 %), activity pages (10 %) and /why (10 %),
 * on 100 accounts, every write with a fresh Idempotency-Key. Afterwards the ledger is verified.
 *
 * Knobs: BENCH_SOAK_MINUTES (default 10), BENCH_SOAK_SAMPLE_SECONDS (default 60),
 * BENCH_SOAK_CONNECTIONS (default 8), BENCH_SOAK_ENGINES (default "pglite,postgres"),
 * BENCH_DATABASE_URL. Results: bench/results/soak-latest.json.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createApiToken } from '../core/access/createApiToken.js';
import { openAccount } from '../core/accounts/openAccount.js';
import { type DatabaseTarget, openDatabase } from '../core/db/database.js';
import { purchase } from '../core/ledger/purchase.js';
import { verifyLedger } from '../core/ledger/verify.js';
import { seedPlans } from '../core/plans/planCatalog.js';
import { seedPriceList } from '../core/pricing/priceList.js';
import { freePort } from '../test/support/freePort.js';
import { createServerDatabase, lastLine, runBenchmark, untilReady } from './support.js';

const here = dirname(fileURLToPath(import.meta.url));
const minutes = Number(process.env.BENCH_SOAK_MINUTES ?? 10);
const sampleSeconds = Number(process.env.BENCH_SOAK_SAMPLE_SECONDS ?? 60);
const connections = Number(process.env.BENCH_SOAK_CONNECTIONS ?? 8);
const engines = (process.env.BENCH_SOAK_ENGINES ?? 'pglite,postgres').split(',').map((e) => e.trim());
/** Seconds the server is left alone before the first and after the last sample of load. */
const idleSeconds = 20;
const accounts = 100;
/** A spend costs 3 credits: a billion outlasts any soak at thousands of spends a second. */
const creditsPerAccount = 1_000_000_000n;

/** The mix, as weights: what a host product and its users' bots ask of the ledger. */
const mix = [
  { kind: 'spend', weight: 60 },
  { kind: 'purchase', weight: 5 },
  { kind: 'balance', weight: 15 },
  { kind: 'activity', weight: 10 },
  { kind: 'why', weight: 10 },
] as const;

interface Sample {
  /** Minutes of load so far (0: idle before it; the last one repeated: idle after it). */
  atMinutes: number;
  label: string;
  rssMb: number;
  requestsPerSecond: number | null;
  non2xx: number | null;
}

async function main(): Promise<void> {
  if (!(minutes > 0) || !(sampleSeconds > 0) || !(connections > 0)) throw new Error('BENCH_SOAK_MINUTES, BENCH_SOAK_SAMPLE_SECONDS and BENCH_SOAK_CONNECTIONS must be positive numbers');
  const runs = [];
  for (const engine of engines) {
    if (engine !== 'pglite' && engine !== 'postgres') throw new Error(`BENCH_SOAK_ENGINES: unknown engine ${engine} (pglite, postgres)`);
    console.log(`${engine}: ${minutes} min of mixed load on ${connections} connections, memory every ${sampleSeconds} s`);
    runs.push({ engine, ...(await soak(engine)) });
  }
  console.log(`\nresident memory of the server, MB (idle before → each sample of load → idle after)`);
  for (const run of runs) {
    const load = run.samples.filter((s) => s.requestsPerSecond !== null);
    const first = load[0]!.rssMb;
    const last = load.at(-1)!.rssMb;
    console.log(`${run.engine.padEnd(9)} ${run.samples.map((s) => s.rssMb).join(' → ')}   (first to last sample of load: ${last - first >= 0 ? '+' : ''}${last - first} MB; ${run.requests.toLocaleString('en')} requests, ${run.non2xx} non-2xx; ledger ${run.ledgerSound ? 'sound' : 'INVARIANTS BROKEN'})`);
    if (!run.ledgerSound || run.non2xx > 0) process.exitCode = 1;
  }
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'soak-latest.json'), JSON.stringify({ at: new Date().toISOString(), minutes, sampleSeconds, connections, runs }, null, 2));
}

/** One engine: seed, start the server, idle, load in samples, idle, stop, verify. */
async function soak(engine: 'pglite' | 'postgres') {
  const serverDatabase = engine === 'postgres' ? await createServerDatabase('ck_bench_soak') : undefined;
  const dataDir = engine === 'pglite' ? mkdtempSync(join(tmpdir(), 'ck-soak-')) : undefined;
  const target: DatabaseTarget = serverDatabase ? { kind: 'postgres', url: serverDatabase.url } : { kind: 'embedded', dataDir: dataDir! };
  try {
    const { token, ids } = await seed(target);
    const port = await freePort();
    const server = spawn('npm', ['start'], {
      cwd: join(here, '..'),
      env: {
        ...process.env,
        ...(serverDatabase ? { DATABASE_URL: serverDatabase.url } : { DATABASE_URL: '', DATA_DIR: dataDir }),
        PORT: String(port),
        LOG_LEVEL: 'warn',
        RATE_LIMIT_PER_TOKEN: '1000000',
        RENEWAL_SCHEDULE: 'off',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    server.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2_000)));
    const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
    const samples: Sample[] = [];
    let requests = 0;
    let non2xx = 0;
    try {
      const base = `http://127.0.0.1:${port}`;
      await untilReady(base, server, () => stderr);
      const serverPid = onlyChild(server.pid!);
      await sleep(idleSeconds * 1000);
      const record = (sample: Omit<Sample, 'rssMb'>) => {
        samples.push({ ...sample, rssMb: residentMb(serverPid) });
        const s = samples.at(-1)!;
        console.log(`${engine}: ${s.label.padEnd(14)} rss ${String(s.rssMb).padStart(5)} MB${s.requestsPerSecond === null ? '' : `   ${s.requestsPerSecond.toFixed(0).padStart(5)} req/s, ${s.non2xx} non-2xx`}`);
      };
      record({ atMinutes: 0, label: 'idle', requestsPerSecond: null, non2xx: null });
      const request = mixedRequest(token, ids);
      for (let elapsed = 0; elapsed < minutes * 60; ) {
        const duration = Math.min(sampleSeconds, minutes * 60 - elapsed);
        const result = await autocannon({ url: base, connections, duration, requests: [request] });
        if (server.exitCode !== null || server.signalCode !== null) throw new Error(`the server exited under load: ${lastLine(stderr)}`);
        elapsed += duration;
        requests += result.requests.total;
        non2xx += result.non2xx + result.errors;
        record({ atMinutes: elapsed / 60, label: `${(elapsed / 60).toFixed(1)} min`, requestsPerSecond: result.requests.total / result.duration, non2xx: result.non2xx + result.errors });
      }
      await sleep(idleSeconds * 1000);
      record({ atMinutes: minutes, label: 'idle after', requestsPerSecond: null, non2xx: null });
    } finally {
      server.kill('SIGTERM');
      await exited;
    }
    const db = await openDatabase(target);
    try {
      const report = await verifyLedger(db);
      return { samples, requests, non2xx, ledgerSound: report.ok, entries: report.entries };
    } finally {
      await db.close();
    }
  } finally {
    await serverDatabase?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A token and `accounts` accounts holding enough credits, written before the server owns the database. */
async function seed(target: DatabaseTarget): Promise<{ token: string; ids: string[] }> {
  const db = await openDatabase(target);
  try {
    const ctx = { db, priceList: seedPriceList, plans: seedPlans };
    const token = (await createApiToken(ctx, { name: 'soak', scopes: ['SERVICE', 'READ'], actor: { kind: 'STAFF', id: 'bench' } })).secret;
    const ids: string[] = [];
    for (let i = 0; i < accounts; i++) {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `soak-${i}` } });
      await purchase(ctx, { accountId, idempotencyKey: 'seed', actor: { kind: 'SYSTEM' }, amount: creditsPerAccount });
      ids.push(accountId);
    }
    return { token, ids };
  } finally {
    await db.close();
  }
}

/** Each request drawn from the mix, on a random account; every write with a fresh key. */
function mixedRequest(token: string, ids: string[]): autocannon.Request {
  const total = mix.reduce((sum, m) => sum + m.weight, 0);
  return {
    setupRequest: (request) => {
      const accountPath = `/v1/accounts/${ids[Math.floor(Math.random() * ids.length)]}`;
      let pick = Math.random() * total;
      const { kind } = mix.find((m) => (pick -= m.weight) < 0) ?? mix[0];
      const read = { ...request, method: 'GET' as const, body: undefined, headers: { authorization: `Bearer ${token}` } };
      const write = (path: string, body: unknown) => ({
        ...request,
        method: 'POST' as const,
        path,
        body: JSON.stringify(body),
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      });
      switch (kind) {
        case 'spend':
          return write(`${accountPath}/usage`, { charge: { action: 'image', quantity: 1 } });
        case 'purchase':
          return write(`${accountPath}/purchases`, { amount: 100 });
        case 'balance':
          return { ...read, path: `${accountPath}/balance` };
        case 'activity':
          return { ...read, path: `${accountPath}/activity` };
        case 'why':
          return { ...read, path: `${accountPath}/why` };
      }
    },
  };
}

/** The server: what npm start exec'd once it had built the bundle. */
function onlyChild(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ');
  if (children.length !== 1) throw new Error(`npm start (pid ${pid}) has ${children.length} child processes, not the server alone`);
  return Number(children[0]);
}

/** The server process's resident set, from the kernel: what `ps` and a container's limit see. */
function residentMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for the server (pid ${pid})`);
  return Math.round(Number(kb) / 1024);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

await runBenchmark('soak', main);
