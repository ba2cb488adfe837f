/**
 * Read replica benchmark: what a report costs from the hot standby (DATABASE_READ_URL) next to
 * the same report on the primary and the balance read (the yardstick), on a primary and a
 * pg_basebackup -R standby of its own (test/support/privateCluster.ts, as the replica test).
 *
 * One account with BENCH_REPLICA_SPENDS spends (default 2,000, written through the ledger), then,
 * each BENCH_REPLICA_REPEATS times (default 200): the balance read; /why and the first activity
 * page on the primary; the same through readFromReplica on an account this process has not just
 * written (the standby, the primary's position reused for a second); and a spend followed by /why
 * through readFromReplica (the primary's position read after the spend, the standby waited for:
 * the read's time only); the choice of server alone, in both cases (what the replica adds to a
 * report). And the spend itself with and without the replica told of it, the write's only cost
 * of a replica (an in-memory note per acknowledged write). Prints p50, p95 and the ratio of p95
 * to the balance read's; nothing asserts a timing.
 */
import { pino } from 'pino';
import { openAccount } from '../core/accounts/openAccount.js';
import type { CoreContext } from '../core/context.js';
import { openDatabase } from '../core/db/database.js';
import { ReadReplica, readFromReplica } from '../core/db/readReplica.js';
import { getBalance } from '../core/ledger/getBalance.js';
import { purchase } from '../core/ledger/purchase.js';
import { spend } from '../core/ledger/spend.js';
import { seedPlans } from '../core/plans/planCatalog.js';
import { seedPriceList } from '../core/pricing/priceList.js';
import { getActivity } from '../core/reports/activity.js';
import { explainBalance } from '../core/reports/why.js';
import { startPrivateCluster } from '../test/support/privateCluster.js';
import { percentile, runBenchmark, timed } from './support.js';

const spends = Number(process.env.BENCH_REPLICA_SPENDS ?? 2_000);
const repeats = Number(process.env.BENCH_REPLICA_REPEATS ?? 200);

async function main(): Promise<void> {
  const primary = await startPrivateCluster({ settings: { wal_level: 'replica' } });
  let standby: Awaited<ReturnType<typeof startPrivateCluster>> | undefined;
  const db = await openDatabase({ kind: 'postgres', url: await primary.createDatabase('ledger'), poolSize: 4 });
  try {
    standby = await startPrivateCluster({ standbyOf: primary });
    const replica = new ReadReplica(standby.url('ledger'), db.sql, { poolSize: 4, logger: pino({ level: 'warn' }) });
    const plain: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
    const replicated: CoreContext = { ...plain, replica, observer: replica.observer };
    const { accountId } = await openAccount(plain, { owner: { kind: 'USER', externalId: 'bench-replica' } });
    await purchase(plain, { accountId, idempotencyKey: 'top-up', actor: { kind: 'SYSTEM' }, amount: 100_000_000n });
    for (let i = 0; i < spends; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => spend(plain, { accountId, idempotencyKey: `seed-${i + j}`, actor: { kind: 'SERVICE' }, charge: { action: 'chat', quantity: 1 } })));
    }
    let key = 0;
    const spendOnce = (ctx: CoreContext) => spend(ctx, { accountId, idempotencyKey: `bench-${key++}`, actor: { kind: 'SERVICE' }, charge: { action: 'chat', quantity: 1 } });
    const why = (ctx: CoreContext) => explainBalance(ctx, { accountId });
    const ms = (work: () => Promise<unknown>) => async () => (await timed(work)).ms;
    const afterSpend = (work: () => Promise<unknown>) => async () => {
      await spendOnce(replicated);
      return ms(work)();
    };
    const reads: [string, () => Promise<number>][] = [
      ['balance read, primary (yardstick)', ms(() => getBalance(plain, { accountId }))],
      ['/why, primary', ms(() => why(plain))],
      ['/why, standby (account not just written)', ms(() => readFromReplica(replicated, accountId, why))],
      ['activity page 1, primary', ms(() => getActivity(plain, { accountId }))],
      ['activity page 1, standby (account not just written)', ms(() => readFromReplica(replicated, accountId, (ctx) => getActivity(ctx, { accountId })))],
      ['/why right after this process spent (standby waited for)', afterSpend(() => readFromReplica(replicated, accountId, why))],
      // What the replica adds to a report: choosing where it runs.
      ['choosing the server, account not just written', ms(() => replica.choose(accountId))],
      ['choosing the server right after this process spent', afterSpend(() => replica.choose(accountId))],
      ['spend, no replica', ms(() => spendOnce(plain))],
      ['spend, replica told of it', ms(() => spendOnce(replicated))],
    ];
    console.log(`Read replica, ${spends.toLocaleString('en')} entries, ${repeats} each (p50 / p95 ms, p95 over the balance read's)`);
    let yardstick = 0;
    for (const [name, read] of reads) {
      const samples: number[] = [];
      for (let i = 0; i < repeats; i++) samples.push(await read());
      samples.sort((a, b) => a - b);
      const p95 = percentile(samples, 95)!;
      yardstick ||= p95;
      console.log(`  ${name.padEnd(58)} ${percentile(samples, 50)!.toFixed(2).padStart(7)} ${p95.toFixed(2).padStart(7)}   ${(p95 / yardstick).toFixed(1)}×`);
    }
    await replica.close();
  } finally {
    await db.close();
    await Promise.all([standby?.remove(), primary.remove()]);
  }
}

await runBenchmark('replica', main);
