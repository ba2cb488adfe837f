/**
 * The cron's renewal job over many due subscriptions (seeded in SQL), alone and under usage traffic, each round beside pgbench -N -M prepared right after (README, Benchmarks).
 * Knobs: BENCH_DATABASE_URL, BENCH_RENEWALS (10000,100000), BENCH_RENEWALS_PGLITE (10000; 0 none), BENCH_USAGE_CLIENTS (8), BENCH_POOL (16), BENCH_PGBENCH_SECONDS (10).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { CoreContext } from '../core/context.js';
import { openDatabase } from '../core/db/database.js';
import { isCreditkeeperError } from '../core/errors.js';
import { spend } from '../core/ledger/spend.js';
import { verifyLedger } from '../core/ledger/verify.js';
import { seedPlans } from '../core/plans/planCatalog.js';
import { renewDueSubscriptions } from '../core/plans/renewDueSubscriptions.js';
import { seedPriceList } from '../core/pricing/priceList.js';
import { findPgbench, pgbenchPreparedTps } from './pgbench.js';
import { createServerDatabase, percentile, runBenchmark, seedingSession, timed } from './support.js';

const postgresSizes = (process.env.BENCH_RENEWALS ?? '10000,100000').split(',').map(Number).filter((n) => n > 0);
const pgliteSize = Number(process.env.BENCH_RENEWALS_PGLITE ?? 10_000);
const usageClients = Number(process.env.BENCH_USAGE_CLIENTS ?? 8);
const poolSize = Number(process.env.BENCH_POOL ?? 16);
const pgbenchSeconds = Number(process.env.BENCH_PGBENCH_SECONDS ?? 10);
const logger = pino({ level: 'warn' });

async function main(): Promise<void> {
  const runs = [...postgresSizes.map((subscriptions) => ({ engine: 'PostgreSQL' as const, subscriptions })), ...(pgliteSize > 0 ? [{ engine: 'PGlite' as const, subscriptions: pgliteSize }] : [])];
  const results = [];
  for (const { engine, subscriptions } of runs) {
    const database = engine === 'PostgreSQL' ? await createServerDatabase('ck_bench_renewals') : null;
    const db = await openDatabase(database ? { kind: 'postgres', url: database.url, poolSize } : { kind: 'memory' });
    try {
      results.push({ engine, subscriptions, ...(await rounds(`${engine} at ${subscriptions.toLocaleString('en')}`, subscriptions, { db, priceList: seedPriceList, plans: seedPlans })) });
    } finally {
      await db.close();
      await database?.drop();
    }
  }
  console.log('yardstick: pgbench -N -M prepared, 8 clients, same server, right after each PostgreSQL round');
  for (const r of results) {
    for (const [round, figures] of [['alone', r.alone], [`with ${usageClients} usage clients`, r.underLoad]] as const) {
      const perSecond = figures.granted / figures.seconds;
      const { pgbenchTps } = figures;
      console.log(
        `  ${r.engine} ${r.subscriptions.toLocaleString('en').padStart(7)} due, ${round.padEnd(22)} ${figures.seconds.toFixed(1).padStart(6)} s  ` +
          `${perSecond.toFixed(0).padStart(5)} renewals/s${pgbenchTps ? `  pgbench ${pgbenchTps.toFixed(0)} tps, ${(perSecond / pgbenchTps).toFixed(2)}×` : ''}`,
      );
    }
  }
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'renewals-latest.json'), JSON.stringify({ at: new Date().toISOString(), poolSize, results }, null, 2));
}

async function pgbenchYardstick(): Promise<number | null> {
  const pgbench = findPgbench();
  return pgbench ? pgbenchPreparedTps(pgbench, 8, pgbenchSeconds) : null;
}

/** Round 1 alone, round 2 under usage traffic, then the verifier: on one engine at one size. */
async function rounds(label: string, subscriptions: number, ctx: CoreContext) {
  const { db } = ctx;
  const yardstick = ctx.db.kind === 'postgres' ? pgbenchYardstick : async () => null;
  const seeded = await timed(() => seedSubscriptions(ctx, subscriptions));
  console.log(`${label}: seeded ${subscriptions.toLocaleString('en')} due subscriptions in ${(seeded.ms / 1000).toFixed(1)} s`);

  const alone = await timed(() => renewDueSubscriptions(ctx, { logger }));
  report(`${label}: round 1, renewals alone`, alone.value.granted, alone.ms);
  const aloneTps = await yardstick();

  // Every subscription one period back: all due again, for a round under load.
  await db.sql.query(
    `UPDATE subscriptions SET anchor_at = anchor_at - p.step, period_start = period_start - p.step, period_end = period_end - p.step
     FROM (SELECT 'free' AS plan, interval '7 days' AS step UNION ALL SELECT unnest(ARRAY['starter','growth','scale']), interval '31 days') p
     WHERE subscriptions.plan = p.plan`,
  );
  const accounts = (await db.sql.query<{ account_id: string }>('SELECT account_id FROM subscriptions')).map((r) => r.account_id);
  let renewing = true;
  const latencies: number[] = [];
  let denied = 0;
  const traffic = Array.from({ length: usageClients }, async (_, client) => {
    let n = 0;
    while (renewing) {
      const accountId = accounts[Math.floor(Math.random() * accounts.length)]!;
      const started = performance.now();
      try {
        await spend(ctx, { accountId, idempotencyKey: `bench-${client}-${n++}`, actor: { kind: 'SERVICE' }, charge: { action: 'chat', quantity: 1 } });
      } catch (error) {
        if (!isCreditkeeperError(error, 'INSUFFICIENT_CREDITS')) throw error;
        denied += 1;
      }
      latencies.push(performance.now() - started);
    }
  });
  const loaded = await timed(async () => {
    try {
      return await renewDueSubscriptions(ctx, { logger });
    } finally {
      renewing = false;
    }
  });
  await Promise.all(traffic);
  report(`${label}: round 2, renewals with ${usageClients} usage clients`, loaded.value.granted, loaded.ms);
  const loadedTps = await yardstick();
  latencies.sort((a, b) => a - b);
  const spendsPerSecond = latencies.length / (loaded.ms / 1000);
  console.log(
    `  usage meanwhile: ${latencies.length.toLocaleString('en')} spends (${denied} denied for want of credits), ${spendsPerSecond.toFixed(0)}/s, ` +
      `p50 ${percentile(latencies, 50)!.toFixed(1)} ms, p95 ${percentile(latencies, 95)!.toFixed(1)} ms, p99 ${percentile(latencies, 99)!.toFixed(1)} ms`,
  );

  const verified = await timed(() => verifyLedger(db));
  console.log(`${label}: verifier: ${verified.value.ok ? 'ledger sound' : 'INVARIANTS BROKEN'} (${verified.value.entries.toLocaleString('en')} entries, ${(verified.ms / 1000).toFixed(1)} s)`);
  if (!verified.value.ok) process.exitCode = 1;
  return {
    alone: { granted: alone.value.granted, seconds: alone.ms / 1000, pgbenchTps: aloneTps },
    underLoad: {
      granted: loaded.value.granted,
      seconds: loaded.ms / 1000,
      pgbenchTps: loadedTps,
      usageClients,
      spends: latencies.length,
      spendsPerSecond,
      p50Ms: percentile(latencies, 50),
      p95Ms: percentile(latencies, 95),
      p99Ms: percentile(latencies, 99),
    },
    ledgerSound: verified.value.ok,
  };
}

function report(label: string, granted: number, ms: number): void {
  console.log(`${label}: ${granted.toLocaleString('en')} periods granted in ${(ms / 1000).toFixed(1)} s — ${(granted / (ms / 1000)).toFixed(0)} renewals/s`);
}

/** Users, accounts and subscriptions one period in, their next grant due (straight SQL, in one statement each). */
async function seedSubscriptions(ctx: CoreContext, subscriptions: number): Promise<void> {
  await seedingSession(ctx.db, async (session) => {
    await session.query(
      `WITH u AS (INSERT INTO users (external_id) SELECT 'bench-' || i FROM generate_series(1, $1) i RETURNING id)
       INSERT INTO accounts (owner_kind, user_id) SELECT 'USER', id FROM u`,
      [subscriptions],
    );
    await session.query(
      `INSERT INTO subscriptions (account_id, plan, anchor_at, period_index, period_start, period_end)
       SELECT a.id, p.plan, now() - p.step - interval '1 minute', 0, now() - p.step - interval '1 minute', now() - interval '1 minute'
       FROM (SELECT id, row_number() OVER () AS n FROM accounts) a
       CROSS JOIN LATERAL (SELECT CASE WHEN a.n % 10 < 7 THEN 'free' ELSE (ARRAY['starter','growth','scale'])[1 + a.n % 3] END AS plan) chosen
       JOIN (SELECT 'free' AS plan, interval '7 days' AS step UNION ALL SELECT unnest(ARRAY['starter','growth','scale']), interval '1 month') p
         ON p.plan = chosen.plan`,
    );
  });
}

await runBenchmark('renewals', main);
