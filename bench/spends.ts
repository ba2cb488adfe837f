/**
 * Spends/s against pgbench -M prepared on the same server, run right after each of ours (README, Benchmarks): many accounts, bulk-seeded, and one hot one.
 * Knobs: BENCH_SECONDS, BENCH_ACCOUNTS (10000,100000,1000000), BENCH_CLIENTS (8,32), BENCH_PROCESSES (1,2), BENCH_PGLITE (1000; 0 none), BENCH_DATABASE_URL.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { CoreContext } from '../core/context.js';
import { type Database, openDatabase } from '../core/db/database.js';
import { purchase } from '../core/ledger/purchase.js';
import { verifyLedger, type VerifyReport } from '../core/ledger/verify.js';
import { seedPlans } from '../core/plans/planCatalog.js';
import { seedPriceList } from '../core/pricing/priceList.js';
import { findPgbench } from './pgbench.js';
import { manyAccounts, type Measurement, measureSpends, randomOf, type SecondProcess, spendCharge, startSecondProcess, warmUp } from './spendWorkers.js';
import { adminQuery, benchServerUrl, createServerDatabase, percentile, runBenchmark, seedingSession } from './support.js';

const run = promisify(execFile);

const config = {
  seconds: positiveNumber('BENCH_SECONDS', 10),
  serverUrl: benchServerUrl,
  accountSizes: numbers('BENCH_ACCOUNTS', [10_000, 100_000, 1_000_000]).toSorted((a, b) => a - b),
  clients: numbers('BENCH_CLIENTS', [8, 32]),
  processes: numbers('BENCH_PROCESSES', [1, 2]),
  pgliteAccounts: Number(process.env.BENCH_PGLITE ?? 1_000),
  pgliteClients: [1, 8],
  /** Connections in each process's pool: at least the largest client count. */
  poolSize: 40,
  creditsPerAccount: 1_000_000n,
  hotAccountCredits: 1_000_000_000n,
  /** Accounts copied from the template per statement. */
  cloneChunk: 100_000,
  warmupSpends: 200,
};

const creditsPerSpend = unitPrice(spendCharge.action);

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not "${raw}"`);
  return value;
}

function numbers(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const values = raw.split(',').map(Number);
  if (values.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`${name} must be positive whole numbers, comma-separated, not "${raw}"`);
  return values;
}

function unitPrice(action: string): bigint {
  const price = seedPriceList[action];
  if (price?.pricing !== 'per-unit') throw new Error(`bench expects "${action}" to be a per-unit action`);
  return BigInt(price.unitPrice);
}

type Workload = 'many accounts' | 'hot account';

interface RunResult {
  workload: Workload;
  engine: 'postgres' | 'pglite' | 'pgbench';
  /** What ran: our spend, or the pgbench workload (-N, or the hot-row script). */
  detail: string;
  accounts: number;
  /** Creditkeeper processes spending at once (1 for pgbench). */
  processes: number;
  clients: number;
  seconds: number;
  operations: number;
  opsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  avgMs: number | null;
  errors: Record<string, number>;
  /** ours / pgbench for the row with the same workload, accounts and clients (PostgreSQL rows only). */
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

/** Flushes dirty pages before a measured run so a checkpoint is less likely to land inside it. */
async function checkpoint(): Promise<void> {
  await adminQuery('CHECKPOINT').catch(() => []); // needs superuser (or pg_checkpoint); best effort
}

// ---------------------------------------------------------------------------------------------
// Seeding

/** One user's account, no credits yet. */
async function newAccount(db: Database, externalId: string): Promise<string> {
  const [row] = await db.sql.query<{ id: string }>(
    `WITH u AS (INSERT INTO users (external_id) VALUES ($1) RETURNING id) INSERT INTO accounts (owner_kind, user_id) SELECT 'USER', id FROM u RETURNING id::text`,
    [externalId],
  );
  return row!.id;
}

/** The hot account and the template the many are copied from (never spent on), both bought credits through `purchase`. */
async function seedTemplate(ctx: CoreContext, tally: Tally): Promise<{ hot: string; template: string }> {
  const hot = await newAccount(ctx.db, 'bench-hot');
  const template = await newAccount(ctx.db, 'bench-user-0');
  for (const [accountId, amount] of [[hot, config.hotAccountCredits], [template, config.creditsPerAccount]] as const) {
    await purchase(ctx, { accountId, amount, idempotencyKey: 'seed', actor: { kind: 'SYSTEM' } });
    tally.seedEntries += 1;
    tally.seededCredits += amount;
  }
  return { hot, template };
}

/**
 * `count` more accounts, each a copy of the template's rows with its own ids: what `purchase` would have written,
 * a hundred thousand accounts a statement instead of one write each.
 */
async function cloneAccounts(db: Database, template: string, from: number, count: number, tally: Tally): Promise<void> {
  await seedingSession(db, async (session) => {
    const [shape] = await session.query<{ buckets: number; entries: number }>(
      'SELECT (SELECT count(*)::int FROM buckets WHERE account_id = $1::uuid) AS buckets, (SELECT count(*)::int FROM entries WHERE account_id = $1::uuid) AS entries',
      [template],
    );
    if (shape!.buckets !== 1 || shape!.entries !== 1) throw new Error('the template account must hold one bucket and one entry');
    for (let done = 0; done < count; done += config.cloneChunk) {
      const n = Math.min(config.cloneChunk, count - done);
      await session.exec('BEGIN');
      await session.query(
        `CREATE TEMP TABLE clone ON COMMIT DROP AS
         WITH u AS (INSERT INTO users (external_id) SELECT 'bench-user-' || g FROM generate_series($2::int, $2::int + $3::int - 1) g RETURNING id),
           a AS (INSERT INTO accounts (owner_kind, user_id, balance, outstanding, last_seq, created_at)
                 SELECT 'USER', u.id, t.balance, t.outstanding, t.last_seq, t.created_at FROM u, accounts t WHERE t.id = $1::uuid RETURNING id)
         SELECT id AS account_id, gen_random_uuid() AS bucket_id, gen_random_uuid() AS entry_id FROM a`,
        [template, from + done, n],
      );
      await session.exec(`
        INSERT INTO buckets (id, account_id, kind, granted, remaining, priority, expires_at, created_at)
          SELECT c.bucket_id, c.account_id, b.kind, b.granted, b.remaining, b.priority, b.expires_at, b.created_at
          FROM clone c, buckets b WHERE b.account_id = '${template}';
        INSERT INTO entries (id, account_id, seq, type, category, action, quantity, description, amount, balance_after, outstanding_after,
            original_amount, discount_percent, source_kind, source_id, source_label, source_url, actor_kind, actor_id, note,
            idempotency_key, request_hash, corrects_id, group_seq, created_at, occurred_at)
          SELECT c.entry_id, c.account_id, e.seq, e.type, e.category, e.action, e.quantity, e.description, e.amount, e.balance_after,
            e.outstanding_after, e.original_amount, e.discount_percent, e.source_kind, e.source_id, e.source_label, e.source_url,
            e.actor_kind, e.actor_id, e.note, e.idempotency_key, e.request_hash, e.corrects_id, e.group_seq, e.created_at, e.occurred_at
          FROM clone c, entries e WHERE e.account_id = '${template}';
        INSERT INTO movements (account_id, entry_id, seq, bucket_id, amount, remaining_after)
          SELECT c.account_id, c.entry_id, m.seq, c.bucket_id, m.amount, m.remaining_after
          FROM clone c, movements m WHERE m.account_id = '${template}';
        INSERT INTO entry_rollups (account_id, block, type, category, action, source_kind, source_id, actor_kind, actor_id, entries,
            quantity, amount, source_label, smallest_amount, largest_amount)
          SELECT c.account_id, r.block, r.type, r.category, r.action, r.source_kind, r.source_id, r.actor_kind, r.actor_id, r.entries,
            r.quantity, r.amount, r.source_label, r.smallest_amount, r.largest_amount
          FROM clone c, entry_rollups r WHERE r.account_id = '${template}';
        INSERT INTO activity_counts (account_id, type, rows) SELECT c.account_id, x.type, x.rows FROM clone c, activity_counts x WHERE x.account_id = '${template}';
        INSERT INTO usage_rollups (account_id, period_start, used, added, usage_count)
          SELECT c.account_id, r.period_start, r.used, r.added, r.usage_count FROM clone c, usage_rollups r WHERE r.account_id = '${template}';
        COMMIT`);
      tally.seedEntries += n;
      tally.seededCredits += BigInt(n) * config.creditsPerAccount;
    }
    await session.exec('ANALYZE');
  });
}

// ---------------------------------------------------------------------------------------------
// Runs

function summarise(m: Measurement, row: Pick<RunResult, 'workload' | 'engine' | 'accounts' | 'processes' | 'clients'>): RunResult {
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

/** Both processes' measurements as one: operations added, over the longer of the two runs. */
function combined(ms: Measurement[]): Measurement {
  const errors: Record<string, number> = {};
  for (const m of ms) for (const [code, n] of Object.entries(m.errors)) errors[code] = (errors[code] ?? 0) + n;
  return {
    operations: ms.reduce((sum, m) => sum + m.operations, 0),
    seconds: Math.max(...ms.map((m) => m.seconds)),
    latenciesMs: ms.flatMap((m) => m.latenciesMs),
    errors,
  };
}

interface Spenders {
  ctx: CoreContext;
  second: SecondProcess | null;
  hot: string;
  accounts: string[];
}

/** One run of ours: `clients` workers, split evenly over `processes`. */
async function spendRun(s: Spenders, workload: Workload, processes: number, clients: number, tally: Tally): Promise<RunResult> {
  await checkpoint();
  const pick = workload === 'hot account' ? () => s.hot : randomOf(s.accounts);
  const share = processes === 2 ? Math.ceil(clients / 2) : clients;
  const target = workload === 'hot account' ? { hot: s.hot } : { many: true as const };
  const ms = await Promise.all([
    measureSpends(s.ctx, share, config.seconds, pick),
    ...(processes === 2 ? [s.second!.run(target, clients - share, config.seconds)] : []),
  ]);
  const m = combined(ms);
  tally.spends += m.operations;
  const result = summarise(m, { workload, engine: 'postgres', accounts: workload === 'hot account' ? 1 : s.accounts.length, processes, clients });
  logRun(result);
  return result;
}

function logRun(r: RunResult): void {
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  console.log(
    `  ${(r.engine === 'pgbench' ? `pgbench ${r.detail}` : `${r.engine} ×${r.processes}`).padEnd(21)} ${r.workload.padEnd(13)} ` +
      `${r.accounts.toLocaleString('en').padStart(9)} c=${String(r.clients).padEnd(2)} ${r.opsPerSecond.toFixed(1).padStart(9)} ops/s` +
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
  let second: SecondProcess | null = null;
  try {
    db = await openDatabase({ kind: 'postgres', url: database.url, poolSize: config.poolSize });
    const ctx: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
    if (config.processes.includes(2)) second = await startSecondProcess(database.url, config.poolSize);
    const tally: Tally = { seedEntries: 0, seededCredits: 0n, spends: 0 };
    const { hot, template } = await seedTemplate(ctx, tally);
    const spenders: Spenders = { ctx, second, hot, accounts: [] };
    const results: RunResult[] = [];
    for (const [i, size] of config.accountSizes.entries()) {
      const seeded = spenders.accounts.length;
      await timed(`seeding up to ${size.toLocaleString('en')} accounts in bulk SQL`, () => cloneAccounts(db!, template, seeded + 1, size - seeded, tally));
      spenders.accounts = await manyAccounts(ctx, [hot, template]);
      await second?.accounts([hot, template]);
      if (i === 0) tally.spends += (await warmUp(ctx, config.warmupSpends, randomOf(spenders.accounts))) + ((await second?.warmUp(config.warmupSpends)) ?? 0);
      const workloads: Workload[] = i === 0 ? ['many accounts', 'hot account'] : ['many accounts'];
      for (const workload of workloads) {
        for (const clients of config.clients) {
          for (const processes of config.processes) results.push(await spendRun(spenders, workload, processes, clients, tally));
          // pgbench right after, on the same server and disk at nearly the same moment: this machine's commit
          // times wander by a factor of two or more from one minute to the next.
          if (baseline) results.push(logged(await baseline.run(workload, clients, size)));
        }
      }
    }
    const check = await checkLedger(db, 'postgres', tally);
    return { results, check };
  } finally {
    await second?.close();
    await db?.close();
    await database.drop();
  }
}

function logged(r: RunResult): RunResult {
  logRun(r);
  return r;
}

async function benchPglite(): Promise<{ results: RunResult[]; check: LedgerCheck }> {
  console.log('PGlite (in-memory)');
  const db = await openDatabase({ kind: 'memory' });
  try {
    const ctx: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
    const tally: Tally = { seedEntries: 0, seededCredits: 0n, spends: 0 };
    const { hot, template } = await seedTemplate(ctx, tally);
    await cloneAccounts(db, template, 1, config.pgliteAccounts, tally);
    const spenders: Spenders = { ctx, second: null, hot, accounts: await manyAccounts(ctx, [hot, template]) };
    tally.spends += await warmUp(ctx, config.warmupSpends, randomOf(spenders.accounts));
    const results: RunResult[] = [];
    for (const workload of ['many accounts', 'hot account'] as const) {
      for (const clients of config.pgliteClients) {
        const pick = workload === 'hot account' ? () => hot : randomOf(spenders.accounts);
        const m = await measureSpends(ctx, clients, config.seconds, pick);
        tally.spends += m.operations;
        results.push(logged(summarise(m, { workload, engine: 'pglite', accounts: workload === 'hot account' ? 1 : spenders.accounts.length, processes: 1, clients })));
      }
    }
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
  /** One pgbench run matching ours: `-N` at the scale of `accounts` for many accounts, the hot-row script for one. */
  run(workload: Workload, clients: number, accounts: number): Promise<RunResult>;
  close(): Promise<void>;
}

async function openPgbench(pgbench: string): Promise<Pgbench> {
  const database = await createServerDatabase('ck_pgbench');
  const scriptDir = mkdtempSync(join(tmpdir(), 'ck-pgbench-'));
  const hotScript = join(scriptDir, 'hot-row.sql');
  writeFileSync(hotScript, hotRowScript);
  console.log(`pgbench: ${pgbench}, database ${database.name}`);
  let scale = 0;
  return {
    run: async (workload, clients, accounts) => {
      // 100,000 rows a scale; the hot row is row 1 at any scale.
      const wanted = Math.max(scale, 1, workload === 'many accounts' ? Math.round(accounts / 100_000) : 1);
      if (wanted !== scale) {
        await timed(`pgbench -i -s ${wanted}`, () => run(pgbench, ['-i', '-s', String(wanted), '-q', database.url], { maxBuffer: 1 << 24 }));
        scale = wanted;
      }
      await checkpoint();
      const args = workload === 'many accounts' ? ['-N'] : ['-f', hotScript];
      const result = await pgbenchRun(pgbench, database.url, [...args, '-M', 'prepared'], clients);
      const detail = `${workload === 'many accounts' ? '-N' : 'hot row'} -M prepared`;
      return { workload, engine: 'pgbench', detail, accounts: workload === 'many accounts' ? scale * 100_000 : 1, processes: 1, clients, ...result, ratioToPgbench: null };
    },
    close: async () => {
      rmSync(scriptDir, { recursive: true, force: true });
      await database.drop();
    },
  };
}

async function pgbenchRun(
  pgbench: string,
  url: string,
  args: string[],
  clients: number,
): Promise<Pick<RunResult, 'seconds' | 'operations' | 'opsPerSecond' | 'p50Ms' | 'p99Ms' | 'avgMs' | 'errors'>> {
  const seconds = Math.max(1, Math.round(config.seconds));
  const { stdout } = await run(pgbench, [...args, '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds), '-n', url]);
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

/** ours/pgbench for each PostgreSQL row: the pgbench run right after it with the same workload and clients. */
function attachRatios(rows: RunResult[]): void {
  rows.forEach((row, i) => {
    if (row.engine !== 'postgres') return;
    const baseline = rows.slice(i).find((b) => b.engine === 'pgbench' && b.workload === row.workload && b.clients === row.clients);
    if (baseline && baseline.opsPerSecond > 0) row.ratioToPgbench = row.opsPerSecond / baseline.opsPerSecond;
  });
}

// ---------------------------------------------------------------------------------------------
// Report

function printTable(rows: RunResult[], pgbenchAvailable: boolean): void {
  const headers = ['workload', 'accounts', 'engine', 'processes', 'clients', 'ops/s', 'p50 ms', 'p99 ms', 'avg ms', 'errors'];
  if (pgbenchAvailable) headers.push('ours/pgbench');
  const fmt = (x: number | null, digits: number) => (x === null ? '-' : x.toFixed(digits));
  const body = rows.map((r) => {
    const cells = [
      r.workload,
      r.accounts.toLocaleString('en'),
      r.engine === 'pgbench' ? `pgbench ${r.detail}` : r.engine,
      r.engine === 'pgbench' ? '-' : String(r.processes),
      String(r.clients),
      fmt(r.opsPerSecond, 1),
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      fmt(r.avgMs, 2),
      String(Object.values(r.errors).reduce((a, b) => a + b, 0)),
    ];
    if (pgbenchAvailable) cells.push(r.ratioToPgbench === null ? '-' : r.ratioToPgbench.toFixed(2));
    return cells;
  });
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
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
    for (const [code, count] of Object.entries(r.errors)) console.log(`  ${r.engine} ×${r.processes} ${r.workload} ${r.accounts} c=${r.clients}: ${count} × ${code}`);
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
  const [version] = await adminQuery<{ v: string }>('SELECT version() AS v');
  const server = version!.v;
  console.log(`Creditkeeper spend bench: ${config.seconds} s per run, ${cpus().length} CPUs, Node ${process.version}\n  server ${new URL(config.serverUrl).host}: ${server}\n`);

  const pgbench = findPgbench();
  if (!pgbench) console.log('pgbench is unavailable (not on PATH nor in /usr/lib/postgresql/*/bin): skipping the baseline and ratios');
  const baseline = pgbench ? await openPgbench(pgbench) : null;
  let postgres: Awaited<ReturnType<typeof benchPostgres>>;
  try {
    postgres = await benchPostgres(baseline);
  } finally {
    await baseline?.close();
  }
  const pglite = config.pgliteAccounts > 0 ? await benchPglite() : null;

  const rows = [...postgres.results, ...(pglite?.results ?? [])];
  attachRatios(rows);
  console.log('');
  printTable(rows, pgbench !== null);
  console.log('');
  printErrors(rows);
  const checks = [postgres.check, ...(pglite ? [pglite.check] : [])];
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
