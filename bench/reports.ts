/**
 * Reports benchmark: how fast the user-facing reads are on an account with a long history.
 *
 * It builds one account holding BENCH_REPORT_ENTRIES entries (default 1,000,000) on its own
 * PostgreSQL database — written straight in SQL, because posting a million spends through the
 * API would take most of an hour, and checked with the ledger verifier before anything is
 * measured, so the history is one the ledger could have written. Then it times, each repeated
 * BENCH_REPORT_REPEATS times (default 30): the first and the fortieth activity page, the first
 * page of a rare filter (Added: a top-up among a million usage rows), the /credits breakdown,
 * /why over the last month, and the 30-day usage chart. It prints median and p95 per read and
 * writes bench/results/reports-latest.json. Nothing asserts a timing.
 *
 * Knobs: BENCH_DATABASE_URL (default postgresql://root@127.0.0.1:5432/test), BENCH_REPORT_ENTRIES,
 * BENCH_REPORT_REPEATS.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openAccount } from '../core/accounts/openAccount.js';
import type { CoreContext } from '../core/context.js';
import { openDatabase } from '../core/db/database.js';
import { verifyLedger } from '../core/ledger/verify.js';
import { seedPriceList } from '../core/pricing/priceList.js';
import { seedPlans } from '../core/plans/planCatalog.js';
import { getActivity } from '../core/reports/activity.js';
import { getBalanceBreakdown } from '../core/reports/balanceBreakdown.js';
import { getDailyUsage } from '../core/reports/dailyUsage.js';
import { explainBalance } from '../core/reports/why.js';
import { createServerDatabase, percentile, timed } from './support.js';

const entries = Number(process.env.BENCH_REPORT_ENTRIES ?? 1_000_000);
const repeats = Number(process.env.BENCH_REPORT_REPEATS ?? 30);
const historyDays = 60;
const topUpEvery = 50_000;

async function main(): Promise<void> {
  const database = await createServerDatabase('ck_bench_reports');
  const db = await openDatabase({ kind: 'postgres', url: database.url });
  const ctx: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
  try {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'long-history', timeZone: 'Europe/Paris' } });
    const seeded = await timed(() => seedHistory(ctx, accountId));
    console.log(`seeded ${entries.toLocaleString('en')} entries over ${historyDays} days in ${(seeded.ms / 1000).toFixed(1)} s`);
    const verified = await timed(() => verifyLedger(db));
    if (!verified.value.ok) throw new Error(`seeded history breaks invariants: ${JSON.stringify(verified.value.checks.filter((c) => c.violations.length))}`);
    console.log(`verified the ledger (${verified.value.entries.toLocaleString('en')} entries) in ${(verified.ms / 1000).toFixed(1)} s`);

    let cursor: string | undefined;
    for (let page = 1; page < 40; page++) cursor = (await getActivity(ctx, { accountId, ...(cursor && { cursor }) })).next!;
    const page40 = await getActivity(ctx, { accountId, cursor: cursor! });
    const monthAgo = new Date(Date.now() - 30 * 86_400_000);
    const reads: [string, () => Promise<unknown>][] = [
      ['activity, first page', () => getActivity(ctx, { accountId })],
      [`activity, page 40 (${page40.showing.from}–${page40.showing.to} of ${page40.showing.total})`, () => getActivity(ctx, { accountId, cursor: cursor! })],
      ['activity, first page of Added', () => getActivity(ctx, { accountId, filter: 'ADDED' })],
      ['/credits balance breakdown', () => getBalanceBreakdown(ctx, { accountId })],
      ['/why over the last month', () => explainBalance(ctx, { accountId, since: monthAgo })],
      ['30-day usage chart', () => getDailyUsage(ctx, { accountId })],
    ];
    const results = [];
    for (const [label, read] of reads) {
      await read(); // warm
      const times: number[] = [];
      for (let i = 0; i < repeats; i++) times.push((await timed(read)).ms);
      times.sort((a, b) => a - b);
      results.push({ read: label, medianMs: percentile(times, 50)!, p95Ms: percentile(times, 95)!, repeats });
    }
    console.log(`\n${'read'.padEnd(48)} ${'median ms'.padStart(10)} ${'p95 ms'.padStart(8)}`);
    for (const r of results) console.log(`${r.read.padEnd(48)} ${r.medianMs.toFixed(2).padStart(10)} ${r.p95Ms.toFixed(2).padStart(8)}`);
    const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'reports-latest.json'), JSON.stringify({ at: new Date().toISOString(), entries, results }, null, 2));
  } finally {
    await db.close();
    await database.drop();
  }
}

/**
 * A purchase, then usage of 3 credits an entry spread evenly over the last 60 days, in groups of
 * four (one category each), with a small top-up every 50,000 entries (a rare "Added" row).
 * Buckets, movements, rollups and the account are written to match, as the ledger would have:
 * usage draws the oldest purchased bucket, which never runs out.
 */
async function seedHistory(ctx: CoreContext, accountId: string): Promise<void> {
  const start = new Date(Date.now() - historyDays * 86_400_000).toISOString();
  const step = `${(historyDays * 86_400) / entries} seconds`;
  const opening = (BigInt(entries) * 3n + 1000n).toString();
  const topUp = `s % ${topUpEvery} = 0`;
  await ctx.db.sql.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO entries (id, account_id, seq, type, category, action, quantity, description, amount, balance_after,
         outstanding_after, actor_kind, idempotency_key, request_hash, group_seq, created_at)
       SELECT gen_random_uuid(), $1::uuid, s,
         CASE WHEN s = 1 OR ${topUp} THEN 'PURCHASE' ELSE 'USAGE' END::"EntryType",
         CASE WHEN s = 1 OR ${topUp} THEN NULL ELSE (ARRAY['Chat', 'Image generation', 'Research'])[1 + ((s - 2) / 4) % 3] END,
         CASE WHEN s = 1 OR ${topUp} THEN NULL ELSE 'chat' END,
         CASE WHEN s = 1 OR ${topUp} THEN NULL ELSE 3 END,
         CASE WHEN s = 1 OR ${topUp} THEN 'Top-up purchase' ELSE 'Tool: keyframeGenerate' END,
         CASE WHEN s = 1 THEN $2::bigint WHEN ${topUp} THEN 3 ELSE -3 END,
         $2::bigint - 3 * (s - 1) + 6 * (s / ${topUpEvery}),
         0, 'SERVICE', 'seed-' || s, '',
         CASE WHEN s = 1 OR ${topUp} THEN s ELSE greatest(2 + ((s - 2) / 4) * 4, (s / ${topUpEvery}) * ${topUpEvery} + 1) END,
         $3::timestamptz + (s * interval '${step}')
       FROM generate_series(1, $4::bigint) s`,
      [accountId, opening, start, entries],
    );
    await tx.query(
      `INSERT INTO buckets (id, account_id, kind, granted, remaining, priority, created_at)
       SELECT gen_random_uuid(), $1::uuid, 'PURCHASED', amount, amount, 90, created_at
       FROM entries WHERE account_id = $1::uuid AND type = 'PURCHASE'`,
      [accountId],
    );
    await tx.query(
      `INSERT INTO movements (entry_id, bucket_id, amount)
       SELECT e.id, coalesce(own.id, oldest.id), e.amount
       FROM entries e
       CROSS JOIN (SELECT id FROM buckets WHERE account_id = $1::uuid ORDER BY created_at LIMIT 1) oldest
       LEFT JOIN buckets own ON own.account_id = e.account_id AND own.created_at = e.created_at AND e.type = 'PURCHASE'
       WHERE e.account_id = $1::uuid`,
      [accountId],
    );
    await tx.query(
      `UPDATE buckets SET remaining = (SELECT sum(amount) FROM movements m WHERE m.bucket_id = buckets.id)
       WHERE account_id = $1::uuid`,
      [accountId],
    );
    await tx.query(
      `INSERT INTO usage_rollups (account_id, period_start, used, added, usage_count)
       SELECT $1::uuid, date_bin('15 minutes', created_at, '2000-01-01T00:00:00Z'),
         sum(CASE WHEN type = 'USAGE' THEN -amount ELSE 0 END), sum(CASE WHEN type <> 'USAGE' THEN amount ELSE 0 END),
         count(*) FILTER (WHERE type = 'USAGE')
       FROM entries WHERE account_id = $1::uuid GROUP BY 2`,
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
  await ctx.db.sql.exec('VACUUM ANALYZE');
}


await main();
