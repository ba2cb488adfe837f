import type { CoreContext } from '../context.js';
import type { SqlSession } from '../db/sqlRunner.js';
import type { Logger } from '../logger.js';
import { enqueueTogether, readAhead } from '../ledger/writeQueue.js';
import { advanceSubscriptions, grantRenewal, nextRenewal, type Renewal } from './renewSubscription.js';
import { type SubscriptionRow, subscriptionColumns, toSubscriptionRecord } from './subscriptionRecord.js';

export interface RenewalRun {
  /** False when every due subscription was being renewed by another process, so this one did nothing. */
  ran: boolean;
  /** Periods granted now, and periods found granted already (a run interrupted before it moved on). */
  granted: number;
  alreadyGranted: number;
  /** Subscriptions that failed (logged); tried again by the next run. */
  failed: number;
  seconds: number;
}

/**
 * One batch is claimed and read while the other's grants are written; 64 renewals a lane at a time make a full
 * group each, and a spend waits behind no more than two.
 */
const lanes = 2;
const renewalsAtOnce = 64;

const dueSubscriptions = `status = 'ACTIVE' AND period_end <= clock_timestamp() AND id <> ALL($1::uuid[])`;

/**
 * Renews every due subscription, every period it is behind, a batch at a time: claimed, read and moved on in a statement
 * each, its grants through the write engine's groups (README, Plans, renewals and the cron); a failure waits for the next run.
 */
export async function renewDueSubscriptions(ctx: CoreContext, options: { logger: Logger; batchSize?: number }): Promise<RenewalRun> {
  const started = performance.now();
  const { logger, batchSize = 500 } = options;
  const run: RenewalRun = { ran: true, granted: 0, alreadyGranted: 0, failed: 0, seconds: 0 };
  const job: Job = { logger, batchSize, run, skip: new Set(), inHand: new Set(), claimTurn: Promise.resolve() };
  // On PostgreSQL the claim's row locks last until the batch has moved on. PGlite is one connection, which a
  // transaction would hold from the writes, and one process: there the keys keep concurrent runs to one grant.
  const claiming = <T>(work: (session: SqlSession) => Promise<T>) => (ctx.db.kind === 'pglite' ? work(ctx.db.sql) : ctx.db.sql.transaction(work));
  const lane = async () => {
    while (await claiming((session) => renewBatch(ctx, session, job))) logger.debug({ granted: run.granted }, 'renewals: batch done');
  };
  // Both lanes end before the run does (a failing one included), so whoever awaits the run waits for every write.
  const ended = await Promise.allSettled(Array.from({ length: lanes }, lane));
  const rejected = ended.find((lane): lane is PromiseRejectedResult => lane.status === 'rejected');
  if (rejected) throw rejected.reason;
  if (run.granted + run.alreadyGranted + run.failed === 0) {
    const [held] = await ctx.db.sql.query<{ due: boolean }>(`SELECT EXISTS (SELECT 1 FROM subscriptions WHERE ${dueSubscriptions}) AS due`, [[...job.skip]]);
    run.ran = !held?.due;
    if (!run.ran) logger.info('renewals: another process is renewing; skipped');
  }
  run.seconds = (performance.now() - started) / 1000;
  if (run.granted + run.alreadyGranted + run.failed > 0) logger.info(run, 'renewals: run done');
  return run;
}

/** One run's state, shared by its lanes. */
interface Job {
  logger: Logger;
  batchSize: number;
  run: RenewalRun;
  /** Subscriptions not to pick again in this run (failed, or granted and not moved on). */
  skip: Set<string>;
  /** Claimed by a lane and not moved on yet (on PGlite nothing else keeps the other lane from claiming them). */
  inHand: Set<string>;
  /** Claims are taken in turn, each after the one before has its rows. */
  claimTurn: Promise<void>;
}

/** Claims, grants and moves on one batch; false when nothing was left to claim. */
async function renewBatch(ctx: CoreContext, session: SqlSession, job: Job): Promise<boolean> {
  const { batchSize, skip, inHand } = job;
  const previous = job.claimTurn;
  let claimed = () => {};
  job.claimTurn = new Promise((resolve) => (claimed = resolve));
  let due: SubscriptionRow[];
  try {
    await previous;
    due = await session.query<SubscriptionRow>(
      `SELECT ${subscriptionColumns} FROM subscriptions WHERE ${dueSubscriptions}
       ORDER BY period_end LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [[...skip, ...inHand], batchSize],
    );
    for (const row of due) inHand.add(row.id);
  } finally {
    claimed();
  }
  try {
    return due.length > 0 && (await renewClaimed(ctx, session, job, due));
  } finally {
    for (const row of due) inHand.delete(row.id);
  }
}

async function renewClaimed(ctx: CoreContext, session: SqlSession, { logger, run, skip }: Job, due: SubscriptionRow[]): Promise<true> {
  const renewals: Renewal[] = [];
  const failed = (subscription: { id: string; accountId: string }, error: unknown) => {
    run.failed += 1;
    skip.add(subscription.id);
    logger.error({ err: error, subscriptionId: subscription.id, accountId: subscription.accountId }, 'renewal failed');
  };
  for (const subscription of due.map(toSubscriptionRecord)) {
    try {
      renewals.push(nextRenewal(ctx, subscription));
    } catch (error) {
      failed(subscription, error);
    }
  }
  await readAhead(ctx, session, renewals.map((r) => ({ id: r.subscription.accountId, keys: [r.idempotencyKey] })));
  const granted: Renewal[] = [];
  let next = 0;
  const worker = async () => {
    for (let renewal = renewals[next++]; renewal; renewal = renewals[next++]) {
      try {
        if ((await grantRenewal(ctx, renewal)).replayed) run.alreadyGranted += 1;
        else run.granted += 1;
        granted.push(renewal);
      } catch (error) {
        failed(renewal.subscription, error);
      }
    }
  };
  // The workers' first writes are queued as one burst, so they make one group.
  await Promise.all(enqueueTogether(ctx, () => Array.from({ length: Math.min(renewalsAtOnce, renewals.length) }, worker)));
  // Granted but not moved on (cancelled or changed meanwhile): not picked again in this run.
  const advanced = await advanceSubscriptions(session, granted);
  granted.forEach((g, i) => advanced[i] || skip.add(g.subscription.id));
  return true;
}
