/**
 * Balance read bench: GET …/balance's read (getBalanceBreakdown) on 1,000 accounts, 2,000 reads one after another and
 * 2,000 from 32 concurrent workers, with the bare balance read (getBalance, one statement) as the same run's yardstick.
 * Knobs: BENCH_DATABASE_URL, BENCH_BALANCE_READS, BENCH_BALANCE_ROUNDS; BENCH_BALANCE_BEFORE names a module exporting
 * another getBalanceBreakdown (e.g. an older version), measured alternately with this one and checked to answer the same.
 */
import { isDeepStrictEqual } from 'node:util';
import { openAccount } from '../core/accounts/openAccount.js';
import type { CoreContext } from '../core/context.js';
import { openDatabase } from '../core/db/database.js';
import { getBalance } from '../core/ledger/getBalance.js';
import { spend } from '../core/ledger/spend.js';
import { seedPlans } from '../core/plans/planCatalog.js';
import { subscribe } from '../core/plans/subscribe.js';
import { seedPriceList } from '../core/pricing/priceList.js';
import { getBalanceBreakdown } from '../core/reports/balanceBreakdown.js';
import { createServerDatabase, percentile, runBenchmark } from './support.js';

const accounts = 1_000;
const reads = Number(process.env.BENCH_BALANCE_READS ?? 2_000);
const rounds = Number(process.env.BENCH_BALANCE_ROUNDS ?? 2);
const workers = 32;
const actor = { kind: 'SERVICE' } as const;

type Read = (ctx: CoreContext, accountId: string) => Promise<unknown>;

async function main(): Promise<void> {
  const database = await createServerDatabase('ck_bench_balance');
  const db = await openDatabase({ kind: 'postgres', url: database.url });
  try {
    const ctx: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
    const ids = await seed(ctx);
    const contenders: [string, Read][] = [['balance breakdown', (c, accountId) => getBalanceBreakdown(c, { accountId })]];
    if (process.env.BENCH_BALANCE_BEFORE) {
      const before = (await import(process.env.BENCH_BALANCE_BEFORE)) as { getBalanceBreakdown: typeof getBalanceBreakdown };
      for (const accountId of ids) {
        const [a, b] = await Promise.all([before.getBalanceBreakdown(ctx, { accountId }), getBalanceBreakdown(ctx, { accountId })]);
        if (!isDeepStrictEqual(a, b)) throw new Error(`account ${accountId}: the two breakdowns differ`);
      }
      console.log(`both breakdowns answer the same for all ${ids.length} accounts`);
      contenders.unshift(['breakdown before', (c, accountId) => before.getBalanceBreakdown(c, { accountId })]);
    }
    contenders.push(['getBalance (yardstick)', (c, accountId) => getBalance(c, { accountId })]);
    console.log('round | read | mode | reads/s | p50 ms | p95 ms');
    for (let round = 1; round <= rounds; round++) {
      // Alternating order per round, so neither side always runs on a warmer cache.
      for (const [name, read] of round % 2 ? contenders : contenders.toReversed()) {
        for (const concurrency of [1, workers]) {
          const { perSecond, p50, p95 } = await measure(ctx, ids, read, concurrency);
          console.log(`${round} | ${name} | ${concurrency === 1 ? 'sequential' : `${workers} workers`} | ${perSecond.toFixed(0)} | ${p50.toFixed(2)} | ${p95.toFixed(2)}`);
        }
      }
    }
  } finally {
    await db.close();
    await database.drop();
  }
}

/** 1,000 users in Paris, every other one on the Starter plan, each with three chats spent. */
async function seed(ctx: CoreContext): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < accounts) {
        const n = next++;
        const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `balance-${n}`, timeZone: 'Europe/Paris' } });
        await subscribe(ctx, { accountId, idempotencyKey: `plan-${n}`, actor, plan: n % 2 ? 'starter' : 'free' });
        for (let i = 0; i < 3; i++) await spend(ctx, { accountId, idempotencyKey: `chat-${n}-${i}`, actor, charge: { action: 'chat' } });
        ids.push(accountId);
      }
    }),
  );
  return ids;
}

async function measure(ctx: CoreContext, ids: string[], read: Read, concurrency: number): Promise<{ perSecond: number; p50: number; p95: number }> {
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < reads) {
        const accountId = ids[next++ % ids.length]!;
        const at = performance.now();
        await read(ctx, accountId);
        times.push(performance.now() - at);
      }
    }),
  );
  const elapsed = performance.now() - started;
  times.sort((a, b) => a - b);
  return { perSecond: (reads / elapsed) * 1000, p50: percentile(times, 50)!, p95: percentile(times, 95)! };
}

await runBenchmark('balance read', main);
