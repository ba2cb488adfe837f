import type { CoreContext } from '../context.js';
import type { Logger } from '../logger.js';
import type { Period } from './billingPeriod.js';
import { advanceSubscriptions, grantNextPeriod } from './renewSubscription.js';
import type { SubscriptionRecord } from './subscriptionRecord.js';
import { type SubscriptionRow, subscriptionColumns, toSubscriptionRecord } from './subscriptionRecord.js';

export interface RenewalRun {
  /** False when another process held the renewal lock, so this one did nothing. */
  ran: boolean;
  /** Periods granted now, and periods found granted already (a run interrupted before it moved on). */
  granted: number;
  alreadyGranted: number;
  /** Subscriptions that failed (logged); tried again by the next run. */
  failed: number;
  seconds: number;
}

// Any fixed number, the same in every process: the key of the renewal job's advisory lock.
const renewalLockKey = 7_301_001;

/**
 * Renews every subscription that is due, as many periods as each is behind, in batches, a few
 * at a time. One process at a time: a PostgreSQL advisory lock makes replicas skip the run
 * rather than queue behind it. A failing subscription is logged and skipped until the next run.
 */
export async function renewDueSubscriptions(
  ctx: CoreContext,
  options: { logger: Logger; batchSize?: number; concurrency?: number },
): Promise<RenewalRun> {
  const started = performance.now();
  const { logger, batchSize = 500, concurrency = 8 } = options;
  return ctx.db.sql.withSession(async (session) => {
    const [lock] = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [renewalLockKey]);
    if (!lock?.locked) {
      logger.info('renewals: another process is renewing; skipped');
      return { ran: false, granted: 0, alreadyGranted: 0, failed: 0, seconds: 0 };
    }
    const run: RenewalRun = { ran: true, granted: 0, alreadyGranted: 0, failed: 0, seconds: 0 };
    // Subscriptions not to pick again in this run.
    const skip: string[] = [];
    try {
      for (;;) {
        const due = (
          await session.query<SubscriptionRow>(
            `SELECT ${subscriptionColumns} FROM subscriptions
             WHERE status = 'ACTIVE' AND period_end <= clock_timestamp() AND id <> ALL($2::uuid[])
             ORDER BY period_end LIMIT $1`,
            [batchSize, skip],
          )
        ).map(toSubscriptionRecord);
        if (due.length === 0) break;
        let next = 0;
        const granted: { subscription: SubscriptionRecord; period: Period }[] = [];
        const worker = async () => {
          while (next < due.length) {
            const subscription = due[next++]!;
            try {
              const { write, period } = await grantNextPeriod(ctx, subscription);
              if (write.replayed) run.alreadyGranted += 1;
              else run.granted += 1;
              granted.push({ subscription, period });
            } catch (error) {
              run.failed += 1;
              skip.push(subscription.id);
              logger.error({ err: error, subscriptionId: subscription.id, accountId: subscription.accountId }, 'renewal failed');
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, due.length) }, worker));
        // Granted but not moved on (cancelled or changed meanwhile): not picked again in this run.
        const advanced = await advanceSubscriptions(session, granted);
        granted.forEach((g, i) => advanced[i] || skip.push(g.subscription.id));
        logger.debug({ batch: due.length, granted: run.granted }, 'renewals: batch done');
      }
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [renewalLockKey]);
    }
    run.seconds = (performance.now() - started) / 1000;
    if (run.granted + run.alreadyGranted + run.failed > 0) logger.info(run, 'renewals: run done');
    return run;
  });
}
