/**
 * Spend throughput benchmark: how many `spend` calls per second the core ledger sustains, and how
 * that compares with what the same PostgreSQL server does for pgbench's own small write transactions.
 *
 * What it measures
 *   - ours, PostgreSQL: the core `spend` use-case (charge `image` × 1, a fresh idempotency key per call,
 *     actor SERVICE) from 1, 8 and 32 async workers in this one process, for a fixed time each,
 *     (a) over BENCH_ACCOUNTS random accounts and (b) all on one hot account. It runs against a new
 *     database `ck_bench_<random>`, seeded through the core `purchase` use-case and dropped at the end.
 *   - ours, PGlite (in-memory): the same at 1 and 8 workers, over min(1,000, BENCH_ACCOUNTS) accounts
 *     and on one hot account. PGlite is a single connection, so its transactions run one at a time.
 *   - pgbench, same server: the built-in simple-update workload (`-N`, scale 1 = 100,000 rows) and a
 *     one-hot-row script (update one row, read it back, insert history) at 1, 8 and 32 clients,
 *     against its own database `ck_pgbench_<random>`, dropped at the end. Each pgbench run comes
 *     right after our run with the same workload and clients, so both meet the disk in the same mood.
 *
 * How to read it
 *   - ops/s is spends per second for ours and pgbench's "tps (without initial connection time)".
 *   - p50 / p99 are per-spend latencies of successful spends (pgbench reports only an average).
 *   - ours/pgbench is our spends/s divided by pgbench's tps for the matching row: many accounts vs `-N`,
 *     hot account vs the hot-row script, same client count. It is shown for the PostgreSQL rows only
 *     (a PGlite spend against a server transaction is not a like-for-like ratio). A write is one
 *     guarded statement that writes five tables, preceded by a read of the account's state unless
 *     this process wrote or read the account lately, plus validation in Node, for every write
 *     waiting at that moment together (group commit, at most two groups in flight).
 *     pgbench runs five bare statements from C, so the ratio says how much the ledger's work costs
 *     next to the server's floor; what matters is how it moves with clients and between versions.
 *   - More clients mean bigger groups, not more waiting: over many accounts and on one hot account.
 *   - After the runs the ledger is verified (core verifyLedger) and the entries and credits are
 *     reconciled with the spends counted here: a fast ledger that lost money proves nothing.
 *   - Numbers are for this machine and this moment; nothing here asserts a timing.
 *
 * Environment knobs
 *   BENCH_SECONDS       seconds per measured run (default 10)
 *   BENCH_DATABASE_URL  PostgreSQL server to use; databases are created next to the one named
 *                       (default postgresql://root@127.0.0.1:5432/test)
 *   BENCH_ACCOUNTS      accounts for the PostgreSQL many-accounts runs (default 10000)
 *
 * Results go to bench/results/spends-<ISO timestamp>.json and bench/results/latest.json.
 */
import { findPgbench } from './pgbench.js';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { CoreContext } from '../core/context.js';
import { type Database, openDatabase } from '../core/db/database.js';
import { CreditkeeperError } from '../core/errors.js';
import { purchase } from '../core/ledger/purchase.js';
import { spend } from '../core/ledger/spend.js';
import { verifyLedger, type VerifyReport } from '../core/ledger/verify.js';
import { seedPriceList } from '../core/pricing/priceList.js';
import { seedPlans } from '../core/plans/planCatalog.js';
import { adminQuery, benchServerUrl, createServerDatabase, percentile, runBenchmark, seedingSession } from './support.js';

const run = promisify(execFile);

// ---------------------------------------------------------------------------------------------
// Configuration

const config = {
  seconds: positiveNumber('BENCH_SECONDS', 10),
  serverUrl: benchServerUrl,
  postgresAccounts: Math.ceil(positiveNumber('BENCH_ACCOUNTS', 10_000)),
  pgliteAccounts: Math.min(1_000, Math.ceil(positiveNumber('BENCH_ACCOUNTS', 10_000))),
  postgresClients: [1, 8, 32],
  pgliteClients: [1, 8],
  pgbenchClients: [1, 8, 32],
  /** Connections in our pool: at least the largest client count. */
  poolSize: 40,
  /** Concurrent purchases while seeding PostgreSQL. */
  seedConcurrency: 32,
  creditsPerAccount: 1_000_000n,
  hotAccountCredits: 1_000_000_000n,
  /** Unmeasured spends before each engine's runs, so connection set-up and first-query costs stay out. */
  warmupSpends: 200,
};

const spendCharge = { action: 'image', quantity: 1 } as const;
const creditsPerSpend = unitPrice(spendCharge.action);

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not "${raw}"`);
  return value;
}

function unitPrice(action: string): bigint {
  const price = seedPriceList[action];
  if (price?.pricing !== 'per-unit') throw new Error(`bench expects "${action}" to be a per-unit action`);
  return BigInt(price.unitPrice);
}

// ---------------------------------------------------------------------------------------------
// Results

type Workload = 'many accounts' | 'hot account';

interface RunResult {
  workload: Workload;
  engine: 'postgres' | 'pglite' | 'pgbench';
  /** What ran: our spend, or the pgbench workload (-N, or the hot-row script). */
  detail: string;
  accounts: number;
  clients: number;
  seconds: number;
  operations: number;
  opsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  avgMs: number | null;
  errors: Record<string, number>;
  /** ours / pgbench for the matching row (PostgreSQL rows only). */
  ratioToPgbench: number | null;
}

interface LedgerCheck {
  engine: 'postgres' | 'pglite';
  sound: boolean;
  failedChecks: string[];
  entries: number;
  expectedEntries: number;
  totalBalance: string;
  expectedTotalBalance: string;
  ok: boolean;
}

/** Successful spends and seeding entries on one bench database, to reconcile with its ledger. */
interface Tally {
  seedEntries: number;
  seededCredits: bigint;
  spends: number;
}

// ---------------------------------------------------------------------------------------------
// Databases

/** Flushes dirty pages before a measured run so a checkpoint is less likely to land inside it. */
async function checkpoint(): Promise<void> {
  await adminQuery('CHECKPOINT').catch(() => []); // needs superuser (or pg_checkpoint); best effort
}

async function serverVersion(): Promise<string> {
  const [row] = await adminQuery<{ v: string }>('SELECT version() AS v');
  return row!.v;
}

// ---------------------------------------------------------------------------------------------
// Seeding

interface Seeded {
  accounts: string[];
  hot: string;
}

/** Users and their accounts in one statement; credits come next, through the core use-case. */
async function insertAccounts(db: Database, count: number, prefix: string): Promise<string[]> {
  const rows = await seedingSession(db, (session) =>
    session.query<{ id: string }>(
      `WITH u AS (
         INSERT INTO users (external_id) SELECT $2 || g FROM generate_series(1, $1::int) g RETURNING id)
       INSERT INTO accounts (owner_kind, user_id) SELECT 'USER', id FROM u RETURNING id`,
      [count, `${prefix}-`],
    ),
  );
  return rows.map((r) => r.id);
}

async function seedAccounts(ctx: CoreContext, count: number, concurrency: number, tally: Tally): Promise<Seeded> {
  const accounts = await insertAccounts(ctx.db, count, 'bench-user');
  const [hot] = await insertAccounts(ctx.db, 1, 'bench-hot');
  const grants: [string, bigint][] = [
    ...accounts.map((id): [string, bigint] => [id, config.creditsPerAccount]),
    [hot!, config.hotAccountCredits],
  ];
  await forEachConcurrently(grants, concurrency, async ([accountId, amount], i) => {
    await purchase(ctx, { accountId, amount, idempotencyKey: `seed:${i}`, actor: { kind: 'SYSTEM' } });
    tally.seedEntries += 1;
    tally.seededCredits += amount;
  });
  return { accounts, hot: hot! };
}

async function forEachConcurrently<T>(
  items: T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

// ---------------------------------------------------------------------------------------------
// Our spends

let keyCounter = 0;

function spendOnce(ctx: CoreContext, accountId: string): Promise<unknown> {
  return spend(ctx, {
    accountId,
    idempotencyKey: `bench:${process.pid}:${keyCounter++}`,
    actor: { kind: 'SERVICE' },
    charge: spendCharge,
  });
}

interface Measurement {
  operations: number;
  seconds: number;
  latenciesMs: number[];
  errors: Record<string, number>;
}

/** Runs `clients` workers calling `op` back to back until `seconds` have passed. */
async function measure(clients: number, seconds: number, op: () => Promise<unknown>): Promise<Measurement> {
  const latenciesMs: number[] = [];
  const errors: Record<string, number> = {};
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const began = performance.now();
      try {
        await op();
        latenciesMs.push(performance.now() - began);
      } catch (error) {
        const code = errorCode(error);
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
  return { operations: latenciesMs.length, seconds: (performance.now() - start) / 1000, latenciesMs, errors };
}

function errorCode(error: unknown): string {
  if (error instanceof CreditkeeperError) return error.code;
  if (error instanceof Error) return `${error.name}: ${error.message.split('\n')[0]!.slice(0, 120)}`;
  return String(error);
}

function summarise(
  m: Measurement,
  row: Pick<RunResult, 'workload' | 'engine' | 'accounts' | 'clients'>,
): RunResult {
  const sorted = m.latenciesMs.toSorted((a, b) => a - b);
  const total = sorted.reduce((sum, x) => sum + x, 0);
  return {
    ...row,
    detail: `spend ${spendCharge.action} x${spendCharge.quantity}`,
    seconds: m.seconds,
    operations: m.operations,
    opsPerSecond: m.operations / m.seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    avgMs: sorted.length ? total / sorted.length : null,
    errors: m.errors,
    ratioToPgbench: null,
  };
}

function randomAccount(accounts: string[]): () => string {
  return () => accounts[Math.floor(Math.random() * accounts.length)]!;
}

/** Every (workload, clients) run of our spends on one engine; successful spends are added to `tally`. */
async function benchSpends(
  ctx: CoreContext,
  engine: 'postgres' | 'pglite',
  seeded: Seeded,
  clientCounts: number[],
  tally: Tally,
  baseline: Pgbench | null,
): Promise<RunResult[]> {
  const warmup = await measureCount(ctx, seeded.accounts, config.warmupSpends);
  tally.spends += warmup;
  const workloads: [Workload, () => string, number][] = [
    ['many accounts', randomAccount(seeded.accounts), seeded.accounts.length],
    ['hot account', () => seeded.hot, 1],
  ];
  const results: RunResult[] = [];
  for (const [workload, pick, accounts] of workloads) {
    for (const clients of clientCounts) {
      if (engine === 'postgres') await checkpoint();
      const m = await measure(clients, config.seconds, () => spendOnce(ctx, pick()));
      tally.spends += m.operations;
      const result = summarise(m, { workload, engine, accounts, clients });
      results.push(result);
      logRun(result);
      // pgbench right after, on the same server and the same disk at nearly the same moment: this
      // machine's commit times wander by a factor of two or more from one minute to the next.
      if (baseline) {
        const reference = await baseline.run(workload, clients);
        results.push(reference);
        logRun(reference);
      }
    }
  }
  return results;
}

/** `count` unmeasured spends over random accounts; returns how many succeeded. */
async function measureCount(ctx: CoreContext, accounts: string[], count: number): Promise<number> {
  let succeeded = 0;
  const pick = randomAccount(accounts);
  await forEachConcurrently(Array.from({ length: count }), 8, async () => {
    await spendOnce(ctx, pick());
    succeeded += 1;
  });
  return succeeded;
}

function logRun(r: RunResult): void {
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  console.log(
    `  ${r.engine.padEnd(8)} ${r.workload.padEnd(13)} c=${String(r.clients).padEnd(2)} ` +
      `${r.opsPerSecond.toFixed(1).padStart(9)} ops/s` +
      (r.p50Ms === null ? '' : `  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms!.toFixed(2)} ms`) +
      (errors ? `  ERRORS ${errors}` : ''),
  );
}

// ---------------------------------------------------------------------------------------------
// Ledger check

/** The ledger's own invariants, plus: every counted spend and seed is one entry, and no credit went missing. */
async function checkLedger(db: Database, engine: 'postgres' | 'pglite', tally: Tally): Promise<LedgerCheck> {
  const report: VerifyReport = await verifyLedger(db);
  const [totals] = await db.sql.query<{ total: string }>('SELECT coalesce(sum(balance), 0)::text AS total FROM accounts');
  const expectedEntries = tally.seedEntries + tally.spends;
  const expectedTotal = tally.seededCredits - BigInt(tally.spends) * creditsPerSpend;
  const check: LedgerCheck = {
    engine,
    sound: report.ok,
    failedChecks: report.checks.filter((c) => c.violations.length > 0).map((c) => c.name),
    entries: report.entries,
    expectedEntries,
    totalBalance: totals!.total,
    expectedTotalBalance: expectedTotal.toString(),
    ok: false,
  };
  check.ok = check.sound && check.entries === expectedEntries && check.totalBalance === check.expectedTotalBalance;
  console.log(
    `  ${engine}: ledger ${report.ok ? 'sound' : `NOT SOUND (${check.failedChecks.join(', ')})`}; ` +
      `entries ${check.entries} (expected ${expectedEntries} = ${tally.seedEntries} seed + ${tally.spends} spends) ` +
      `${check.entries === expectedEntries ? 'OK' : 'MISMATCH'}; credits ${check.totalBalance} ` +
      `(expected ${check.expectedTotalBalance}) ${check.totalBalance === check.expectedTotalBalance ? 'OK' : 'MISMATCH'}`,
  );
  return check;
}

// ---------------------------------------------------------------------------------------------
// Engines

async function benchPostgres(baseline: Pgbench | null): Promise<{ results: RunResult[]; check: LedgerCheck }> {
  const database = await createServerDatabase('ck_bench');
  console.log(`PostgreSQL: database ${database.name}`);
  let db: Database | undefined;
  try {
    db = await openDatabase({ kind: 'postgres', url: database.url, poolSize: config.poolSize });
    const ctx: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
    const tally: Tally = { seedEntries: 0, seededCredits: 0n, spends: 0 };
    const seeded = await timed(`seeding ${config.postgresAccounts} accounts + 1 hot`, () =>
      seedAccounts(ctx, config.postgresAccounts, config.seedConcurrency, tally),
    );
    const results = await benchSpends(ctx, 'postgres', seeded, config.postgresClients, tally, baseline);
    const check = await checkLedger(db, 'postgres', tally);
    return { results, check };
  } finally {
    await db?.close();
    await database.drop();
  }
}

async function benchPglite(): Promise<{ results: RunResult[]; check: LedgerCheck }> {
  console.log('PGlite (in-memory)');
  const db = await openDatabase({ kind: 'memory' });
  try {
    const ctx: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
    const tally: Tally = { seedEntries: 0, seededCredits: 0n, spends: 0 };
    const seeded = await timed(`seeding ${config.pgliteAccounts} accounts + 1 hot`, () =>
      seedAccounts(ctx, config.pgliteAccounts, 4, tally),
    );
    const results = await benchSpends(ctx, 'pglite', seeded, config.pgliteClients, tally, null);
    const check = await checkLedger(db, 'pglite', tally);
    return { results, check };
  } finally {
    await db.close();
  }
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await work();
  console.log(`  ${label}: ${((performance.now() - start) / 1000).toFixed(1)} s`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// pgbench

const hotRowScript = `\\set delta random(-5, 5)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = 1;
SELECT abalance FROM pgbench_accounts WHERE aid = 1;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, :delta, CURRENT_TIMESTAMP);
END;
`;

interface Pgbench {
  /** One pgbench run of the workload matching ours: `-N` for many accounts, the hot-row script for one. */
  run(workload: Workload, clients: number): Promise<RunResult>;
  close(): Promise<void>;
}

async function openPgbench(pgbench: string): Promise<Pgbench> {
  const database = await createServerDatabase('ck_pgbench');
  const scriptDir = mkdtempSync(join(tmpdir(), 'ck-pgbench-'));
  const hotScript = join(scriptDir, 'hot-row.sql');
  writeFileSync(hotScript, hotRowScript);
  console.log(`pgbench: ${pgbench}, database ${database.name}`);
  const close = async () => {
    rmSync(scriptDir, { recursive: true, force: true });
    await database.drop();
  };
  try {
    await timed('pgbench -i -s 1', () => run(pgbench, ['-i', '-s', '1', '-q', database.url]));
  } catch (error) {
    await close();
    throw error;
  }
  const workloads: Record<Workload, { detail: string; args: string[]; accounts: number }> = {
    'many accounts': { detail: '-N', args: ['-N'], accounts: 100_000 },
    'hot account': { detail: 'hot row', args: ['-f', hotScript], accounts: 1 },
  };
  return {
    run: async (workload, clients) => {
      const { detail, args, accounts } = workloads[workload];
      await checkpoint();
      const result = await pgbenchRun(pgbench, database.url, args, clients);
      return { workload, engine: 'pgbench', detail, accounts, clients, ...result, ratioToPgbench: null };
    },
    close,
  };
}

async function pgbenchRun(
  pgbench: string,
  url: string,
  args: string[],
  clients: number,
): Promise<Pick<RunResult, 'seconds' | 'operations' | 'opsPerSecond' | 'p50Ms' | 'p99Ms' | 'avgMs' | 'errors'>> {
  const seconds = Math.max(1, Math.round(config.seconds));
  const { stdout } = await run(pgbench, [
    ...args,
    '-c', String(clients),
    '-j', String(Math.min(clients, 2)),
    '-T', String(seconds),
    '-n',
    url,
  ]);
  const tps = stdout.match(/tps = ([\d.]+) \(without initial connection time\)/);
  if (!tps) throw new Error(`could not read tps from pgbench output:\n${stdout}`);
  const processed = stdout.match(/number of transactions actually processed: (\d+)/);
  const failed = stdout.match(/number of failed transactions: (\d+)/);
  const latency = stdout.match(/latency average = ([\d.]+) ms/);
  const failures = failed ? Number(failed[1]) : 0;
  return {
    seconds,
    operations: processed ? Number(processed[1]) : 0,
    opsPerSecond: Number(tps[1]),
    p50Ms: null,
    p99Ms: null,
    avgMs: latency ? Number(latency[1]) : null,
    errors: failures ? { 'failed transactions': failures } : {},
  };
}

/** ours/pgbench for each PostgreSQL row with a pgbench row of the same workload and client count. */
function attachRatios(rows: RunResult[]): void {
  for (const row of rows.filter((r) => r.engine === 'postgres')) {
    const baseline = rows.find((b) => b.engine === 'pgbench' && b.workload === row.workload && b.clients === row.clients);
    if (baseline && baseline.opsPerSecond > 0) row.ratioToPgbench = row.opsPerSecond / baseline.opsPerSecond;
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function printTable(rows: RunResult[], pgbenchAvailable: boolean): void {
  const headers = ['workload', 'engine', 'clients', 'ops/s', 'p50 ms', 'p99 ms', 'avg ms', 'errors'];
  if (pgbenchAvailable) headers.push('ours/pgbench');
  const fmt = (x: number | null, digits: number) => (x === null ? '-' : x.toFixed(digits));
  const body = rows.map((r) => {
    const cells = [
      `${r.workload} (${r.accounts.toLocaleString('en')})`,
      r.engine === 'pgbench' ? `pgbench ${r.detail}` : r.engine,
      String(r.clients),
      fmt(r.opsPerSecond, 1),
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      fmt(r.avgMs, 2),
      String(Object.values(r.errors).reduce((a, b) => a + b, 0)),
    ];
    if (pgbenchAvailable) cells.push(r.ratioToPgbench === null ? '-' : r.ratioToPgbench.toFixed(3));
    return cells;
  });
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const cells of body) console.log(line(cells));
}

function printErrors(rows: RunResult[]): void {
  const withErrors = rows.filter((r) => Object.keys(r.errors).length > 0);
  if (withErrors.length === 0) {
    console.log('Errors: none');
    return;
  }
  console.log('Errors:');
  for (const r of withErrors) {
    for (const [code, count] of Object.entries(r.errors)) {
      console.log(`  ${r.engine} ${r.workload} c=${r.clients}: ${count} × ${code}`);
    }
  }
}

function writeResults(report: unknown, startedAt: Date): string {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `spends-${startedAt.toISOString().replaceAll(':', '-')}.json`);
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(file, json);
  writeFileSync(join(dir, 'latest.json'), json);
  return file;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAt = new Date();
  const server = await serverVersion();
  console.log(
    `Creditkeeper spend bench: ${config.seconds} s per run, ${cpus().length} CPUs, Node ${process.version}\n` +
      `  server ${new URL(config.serverUrl).host}: ${server}\n`,
  );

  const pgbench = findPgbench();
  if (!pgbench) console.log('pgbench is unavailable (not on PATH nor in /usr/lib/postgresql/*/bin): skipping the baseline and ratios');
  const baseline = pgbench ? await openPgbench(pgbench) : null;
  let postgres: Awaited<ReturnType<typeof benchPostgres>>;
  try {
    postgres = await benchPostgres(baseline);
  } finally {
    await baseline?.close();
  }
  const pglite = await benchPglite();

  const rows = [...postgres.results, ...pglite.results];
  attachRatios(rows);

  console.log('');
  printTable(rows, pgbench !== null);
  console.log('');
  printErrors(rows);
  const checks = [postgres.check, pglite.check];
  const ledgerOk = checks.every((c) => c.ok);
  console.log(`Ledger after the runs: ${ledgerOk ? 'sound, and every spend accounted for' : 'NOT OK (see above)'}`);

  const file = writeResults(
    {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      config: { ...config, creditsPerAccount: String(config.creditsPerAccount), hotAccountCredits: String(config.hotAccountCredits) },
      environment: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, server, pgbench },
      results: rows,
      ledger: checks,
      ledgerOk,
    },
    startedAt,
  );
  console.log(`Results: ${file}`);
  if (!ledgerOk) process.exitCode = 1;
}

await runBenchmark('spends', main);
