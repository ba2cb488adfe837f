/**
 * Reports benchmark: how fast the user-facing reads are as an account's history grows, each read
 * next to the balance read measured in the same run (the ratio is what to compare across runs:
 * this machine's speed wanders with its load).
 *
 * For each engine (PostgreSQL, PGlite) and each size (BENCH_REPORT_ENTRIES, default 10,000,
 * 100,000 and 1,000,000 entries) it builds one account holding that many entries on a database of
 * its own — written straight in SQL, because posting a million spends through the API would take
 * most of an hour, and checked with the ledger verifier (rollups included) before anything is
 * measured, so the history is one the ledger could have written. Then it times, each repeated
 * BENCH_REPORT_REPEATS times (default 30): the balance read, /credits, the first and the fortieth
 * activity page of every filter (All, Added, Used, Adjustments; the last page where a filter has
 * fewer than 40), /why over the last month, over the whole history and for an expected balance
 * the account never had, the balance at a time an hour and 30 days ago (the middle of the history),
 * the 30-day chart and the monthly summary; and once, the CSV export of
 * the whole log with the process's peak RSS meanwhile. It prints one table of p95 and ratio to
 * the balance read and writes bench/results/reports-latest.json. Nothing asserts a timing; a
 * benchmark that fails prints one line saying why and the others go on.
 *
 * Knobs: BENCH_DATABASE_URL (default postgresql://root@127.0.0.1:5432/test), BENCH_REPORT_ENTRIES
 * (comma-separated sizes), BENCH_REPORT_ENGINES (default postgres,pglite), BENCH_REPORT_REPEATS.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openAccount } from '../core/accounts/openAccount.js';
import type { CoreContext } from '../core/context.js';
import { type Database, openDatabase, poolRunner } from '../core/db/database.js';
import type { SqlRunner } from '../core/db/sqlRunner.js';
import { getBalance } from '../core/ledger/getBalance.js';
import { verifyLedger } from '../core/ledger/verify.js';
import { rollupBlockEntries } from '../core/ledger/writeStatements.js';
import { seedPlans } from '../core/plans/planCatalog.js';
import { seedPriceList } from '../core/pricing/priceList.js';
import { getActivity } from '../core/reports/activity.js';
import { getBalanceAt } from '../core/reports/balanceAt.js';
import { getBalanceBreakdown } from '../core/reports/balanceBreakdown.js';
import { getDailyUsage } from '../core/reports/dailyUsage.js';
import { exportActivityCsv } from '../core/reports/exportActivity.js';
import { getMonthlySummary } from '../core/reports/monthlySummary.js';
import { explainBalance } from '../core/reports/why.js';
import { createServerDatabase, failureReason, percentile, timed } from './support.js';

const sizes = (process.env.BENCH_REPORT_ENTRIES ?? '10000,100000,1000000').split(',').map(Number);
const engines = (process.env.BENCH_REPORT_ENGINES ?? 'postgres,pglite').split(',') as ('postgres' | 'pglite')[];
const repeats = Number(process.env.BENCH_REPORT_REPEATS ?? 30);
const historyDays = 60;
/** Every thousandth entry is a top-up (Added) and every thousandth from the 500th an admin adjustment. */
const rareEvery = 1000;
const balanceRead = 'balance read (yardstick)';
const filters = ['ALL', 'ADDED', 'USED', 'ADJUSTMENTS'] as const;

interface Read {
  read: string;
  medianMs: number;
  p95Ms: number;
  /** p95 over the balance read's p95 in the same run. */
  ratio: number;
  /** Set when the read is not the one its name says (a filter with fewer than 40 pages: its last). */
  note?: string;
}

interface Run {
  engine: string;
  entries: number;
  seedSeconds: number;
  reads: Read[];
  csv: { megabytes: number; seconds: number; rssBeforeMb: number; peakRssMb: number };
}

async function main(): Promise<void> {
  const runs: Run[] = [];
  for (const engine of engines) {
    for (const entries of sizes) {
      try {
        runs.push(await benchmark(engine, entries));
      } catch (error) {
        console.log(`reports on ${engine} at ${entries.toLocaleString('en')} entries failed: ${failureReason(error)}`);
      }
    }
  }
  printTable(runs);
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'reports-latest.json'), JSON.stringify({ at: new Date().toISOString(), repeats, runs }, null, 2));
}

async function benchmark(engine: 'postgres' | 'pglite', entries: number): Promise<Run> {
  const { db, seeder, dispose } = await openBenchDatabase(engine);
  try {
    const ctx: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'long-history', timeZone: 'Europe/Paris' } });
    const seeded = await timed(() => seedHistory(seeder, accountId, entries));
    const verified = await verifyLedger({ ...db, sql: seeder }); // on the seeder too: over a million entries it outlasts the statement timeout
    if (!verified.ok) throw new Error(`seeded history breaks invariants: ${verified.checks.filter((c) => c.violations.length).map((c) => c.name).join(', ')}`);
    console.log(`${engine}: seeded and verified ${entries.toLocaleString('en')} entries over ${historyDays} days (seeding ${(seeded.ms / 1000).toFixed(1)} s)`);

    const monthAgo = new Date(Date.now() - 30 * 86_400_000);
    const { balance } = await getBalance(ctx, { accountId });
    const reads: [string, () => Promise<unknown>, string?][] = [
      [balanceRead, () => getBalance(ctx, { accountId })],
      ['/credits breakdown', () => getBalanceBreakdown(ctx, { accountId })],
    ];
    for (const filter of filters) {
      const { cursor, page } = await cursorOfPage(ctx, accountId, filter, 40);
      reads.push([`activity ${filter}, first page`, () => getActivity(ctx, { accountId, filter })]);
      reads.push([`activity ${filter}, page 40`, () => getActivity(ctx, { accountId, filter, ...(cursor && { cursor }) }), page === 40 ? undefined : `page ${page}`]);
    }
    reads.push(
      ['/why over the last month', () => explainBalance(ctx, { accountId, since: monthAgo })],
      ['/why since the account opened', () => explainBalance(ctx, { accountId })],
      ['/why, a balance it never had', () => explainBalance(ctx, { accountId, expectedBalance: balance + 12_345n })],
      // One probe per bucket opened by then: a top-up's every 1,000 entries, so 30 days ago on 1M entries ~500 of them.
      ['balance at a time, an hour ago', () => getBalanceAt(ctx, { accountId, at: new Date(Date.now() - 3_600_000) })],
      ['balance at a time, 30 days ago', () => getBalanceAt(ctx, { accountId, at: monthAgo })],
      ['30-day usage chart', () => getDailyUsage(ctx, { accountId })],
      ['monthly summary', () => getMonthlySummary(ctx, { accountId })],
    );
    const measured: Omit<Read, 'ratio'>[] = [];
    for (const [read, run, note] of reads) {
      await run(); // warm
      const times: number[] = [];
      for (let i = 0; i < repeats; i++) times.push((await timed(run)).ms);
      times.sort((a, b) => a - b);
      measured.push({ read, medianMs: percentile(times, 50)!, p95Ms: percentile(times, 95)!, ...(note && { note }) });
    }
    const yardstick = measured[0]!.p95Ms;
    return {
      engine,
      entries,
      seedSeconds: seeded.ms / 1000,
      reads: measured.map((m) => ({ ...m, ratio: m.p95Ms / yardstick })),
      csv: await exportWhole(ctx, accountId),
    };
  } finally {
    await dispose();
  }
}

/**
 * The database, and what seeds it: on PostgreSQL a connection of its own, since the pool's client
 * gives up on a query after 35 s and one statement writes the whole history.
 */
async function openBenchDatabase(engine: 'postgres' | 'pglite'): Promise<{ db: Database; seeder: SqlRunner; dispose: () => Promise<void> }> {
  if (engine === 'postgres') {
    const database = await createServerDatabase('ck_bench_reports');
    const db = await openDatabase({ kind: 'postgres', url: database.url });
    const seedPool = new pg.Pool({ connectionString: database.url, max: 1 });
    return { db, seeder: poolRunner(seedPool), dispose: async () => (await seedPool.end(), await db.close(), await database.drop()) };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'ck-bench-reports-'));
  const db = await openDatabase({ kind: 'embedded', dataDir });
  return { db, seeder: db.sql, dispose: async () => (await db.close(), rmSync(dataDir, { recursive: true, force: true })) };
}

/** The cursor that opens page `wanted` of a filter, or of its last page when it has fewer (undefined: page 1). */
async function cursorOfPage(ctx: CoreContext, accountId: string, filter: (typeof filters)[number], wanted: number): Promise<{ cursor: string | undefined; page: number }> {
  let cursor: string | undefined;
  let page = 1;
  for (; page < wanted; page++) {
    const next = (await getActivity(ctx, { accountId, filter, ...(cursor && { cursor }) })).next;
    if (!next) break;
    cursor = next;
  }
  return { cursor, page };
}

/** The whole log as CSV, consumed as it streams: how long, and how much memory the process took meanwhile. */
async function exportWhole(ctx: CoreContext, accountId: string): Promise<Run['csv']> {
  const rssBefore = process.memoryUsage.rss();
  let peak = rssBefore;
  let bytes = 0;
  const started = performance.now();
  for await (const chunk of exportActivityCsv(ctx, { accountId })) {
    bytes += Buffer.byteLength(chunk);
    peak = Math.max(peak, process.memoryUsage.rss());
  }
  const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;
  return { megabytes: mb(bytes), seconds: (performance.now() - started) / 1000, rssBeforeMb: mb(rssBefore), peakRssMb: mb(peak) };
}

/**
 * A purchase, then usage of 3 credits an entry spread evenly over the last 60 days, in groups of
 * four (one category each), with a top-up of 3 every 1,000 entries and an admin adjustment of −1
 * every 1,000 from the 500th (the rare rows of Added and Adjustments). Buckets, movements, every
 * rollup and the account are written to match, as the ledger would have: usage and adjustments
 * draw the opening purchase's bucket, which never runs out. The seed runs with its own session
 * settings: no statement timeout, since one statement writes the whole history.
 */
async function seedHistory(seeder: SqlRunner, accountId: string, entries: number): Promise<void> {
  const start = new Date(Date.now() - historyDays * 86_400_000).toISOString();
  const step = `${(historyDays * 86_400) / entries} seconds`;
  const opening = (BigInt(entries) * 3n + 1000n).toString();
  await seeder.transaction(async (tx) => {
    await tx.exec('SET LOCAL statement_timeout = 0');
    await tx.query(
      `INSERT INTO entries (id, account_id, seq, type, category, action, quantity, description, amount, balance_after,
         outstanding_after, actor_kind, actor_id, note, idempotency_key, request_hash, group_seq, created_at)
       SELECT gen_random_uuid(), $1::uuid, s, k.type::"EntryType",
         CASE WHEN k.type = 'USAGE' THEN (ARRAY['Chat', 'Image generation', 'Research'])[1 + ((s - 2) / 4) % 3] END,
         CASE WHEN k.type = 'USAGE' THEN 'chat' END,
         CASE WHEN k.type = 'USAGE' THEN 3 END,
         CASE k.type WHEN 'USAGE' THEN 'Tool: keyframeGenerate' WHEN 'ADJUSTMENT' THEN 'Admin adjustment' ELSE 'Top-up purchase' END,
         CASE WHEN s = 1 THEN $2::bigint WHEN k.type = 'PURCHASE' THEN 3 WHEN k.type = 'ADJUSTMENT' THEN -1 ELSE -3 END,
         $2::bigint + 3 * c.purchases - c.adjustments - 3 * (s - 1 - c.purchases - c.adjustments),
         0, CASE WHEN k.type = 'ADJUSTMENT' THEN 'STAFF' ELSE 'SERVICE' END::"ActorKind",
         CASE WHEN k.type = 'ADJUSTMENT' THEN 'staff-bench' END, CASE WHEN k.type = 'ADJUSTMENT' THEN 'bench correction' END,
         'seed-' || s, '',
         CASE WHEN k.type = 'USAGE' THEN greatest(2 + ((s - 2) / 4) * 4, (s / 500) * 500 + 1) ELSE s END,
         $3::timestamptz + (s * interval '${step}')
       FROM generate_series(1, $4::bigint) s
       CROSS JOIN LATERAL (SELECT CASE WHEN s = 1 OR s % ${rareEvery} = 0 THEN 'PURCHASE'
                                       WHEN s % ${rareEvery} = 500 THEN 'ADJUSTMENT' ELSE 'USAGE' END AS type) k
       -- the top-ups and adjustments from seq 2 up to s
       CROSS JOIN LATERAL (SELECT s / ${rareEvery} AS purchases, (s + 500) / ${rareEvery} AS adjustments) c`,
      [accountId, opening, start, entries],
    );
    await tx.query(
      `INSERT INTO buckets (id, account_id, kind, granted, remaining, priority, created_at)
       SELECT gen_random_uuid(), $1::uuid, 'PURCHASED', amount, amount, 90, created_at
       FROM entries WHERE account_id = $1::uuid AND type = 'PURCHASE'`,
      [accountId],
    );
    await tx.query(
      `INSERT INTO movements (account_id, entry_id, seq, bucket_id, amount, remaining_after)
       SELECT account_id, id, seq, bucket_id, amount, sum(amount) OVER (PARTITION BY bucket_id ORDER BY seq)
       FROM (SELECT e.account_id, e.id, e.seq, coalesce(own.id, oldest.id) AS bucket_id, e.amount
             FROM entries e
             CROSS JOIN (SELECT id FROM buckets WHERE account_id = $1::uuid ORDER BY created_at LIMIT 1) oldest
             LEFT JOIN buckets own ON own.account_id = e.account_id AND own.created_at = e.created_at AND e.type = 'PURCHASE'
             WHERE e.account_id = $1::uuid) m`,
      [accountId],
    );
    await tx.query(
      `UPDATE buckets SET remaining = (SELECT sum(amount) FROM movements m WHERE m.account_id = buckets.account_id AND m.bucket_id = buckets.id)
       WHERE account_id = $1::uuid`,
      [accountId],
    );
    await tx.query(
      `INSERT INTO usage_rollups (account_id, period_start, used, added, usage_count)
       SELECT $1::uuid, date_bin('15 minutes', created_at, '2000-01-01T00:00:00Z'),
         sum(CASE WHEN type = 'USAGE' THEN -amount ELSE 0 END), sum(CASE WHEN type = 'PURCHASE' THEN amount ELSE 0 END),
         count(*) FILTER (WHERE type = 'USAGE')
       FROM entries WHERE account_id = $1::uuid GROUP BY 2`,
      [accountId],
    );
    await tx.query(
      `INSERT INTO entry_rollups (account_id, block, type, category, action, source_kind, source_id, actor_kind, actor_id,
         entries, quantity, amount, source_label, smallest_amount, largest_amount)
       SELECT account_id, seq / ${rollupBlockEntries}, type, coalesce(category, ''), coalesce(action, ''), coalesce(source_kind, ''),
         coalesce(source_id, ''), actor_kind, coalesce(actor_id, ''), count(*), sum(quantity), sum(amount), max(source_label),
         min(amount), max(amount)
       FROM entries WHERE account_id = $1::uuid GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9`,
      [accountId],
    );
    await tx.query(
      `INSERT INTO activity_counts (account_id, type, rows)
       SELECT account_id, type, count(*) FROM entries WHERE account_id = $1::uuid AND seq = group_seq GROUP BY 1, 2`,
      [accountId],
    );
    await tx.query(
      `UPDATE accounts SET last_seq = $2::bigint,
         balance = (SELECT balance_after FROM entries WHERE account_id = $1::uuid AND seq = $2::bigint)
       WHERE id = $1::uuid`,
      [accountId, entries],
    );
  });
  // Steady state: autovacuum would have set the visibility map and statistics by now.
  await seeder.withSession(async (session) => {
    await session.exec('SET statement_timeout = 0');
    await session.exec('VACUUM ANALYZE');
    await session.exec('RESET statement_timeout');
  });
}

/** One table: a row per read, a column per engine and size with p95 and its ratio to the balance read. */
function printTable(runs: Run[]): void {
  if (runs.length === 0) return;
  const size = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));
  const columns = runs.map((r) => `${r.engine} ${size(r.entries)}`);
  const width = 20;
  console.log(`\np95 ms (× the balance read's p95 in the same run); * = the filter's last page, it has fewer than 40`);
  console.log(`${'read'.padEnd(34)}${columns.map((c) => c.padStart(width)).join('')}`);
  for (const [i, read] of runs[0]!.reads.entries()) {
    const cells = runs.map((run) => {
      const r = run.reads[i]!;
      return `${r.p95Ms.toFixed(2)} (${r.ratio.toFixed(1)}×)${r.note ? '*' : ''}`.padStart(width);
    });
    console.log(`${read.read.padEnd(34)}${cells.join('')}`);
  }
  console.log(`${'CSV export of the whole log, s'.padEnd(34)}${runs.map((r) => `${r.csv.seconds.toFixed(1)} (${r.csv.megabytes} MB)`.padStart(width)).join('')}`);
  console.log(`${'  peak RSS meanwhile (before), MB'.padEnd(34)}${runs.map((r) => `${r.csv.peakRssMb} (${r.csv.rssBeforeMb})`.padStart(width)).join('')}`);
}

try {
  await main();
} catch (error) {
  console.log(`reports bench failed: ${failureReason(error)}`);
  process.exitCode = 1;
}
