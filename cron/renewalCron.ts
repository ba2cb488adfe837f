import cron from 'node-cron';
import { settleUnknownCharges } from '../core/billing/settleUnknownCharges.js';
import type { CoreContext } from '../core/context.js';
import { landScheduledWrites } from '../core/ledger/landScheduledWrites.js';
import type { Logger } from '../core/logger.js';
import { type RenewalRun, renewDueSubscriptions } from '../core/plans/renewDueSubscriptions.js';

export interface RenewalCron {
  /** Stops scheduling and waits for a run in progress to finish. */
  stop(): Promise<void>;
}

/**
 * Renewals, due dated writes and lost-answer charges on `schedule`, and once at start for what fell due while down;
 * runs never overlap here, and across processes renewals share the due subscriptions out by claiming batches.
 */
export function startRenewalCron(ctx: CoreContext, logger: Logger, schedule: string, onRun?: (run: RenewalRun) => void): RenewalCron {
  if (schedule === 'off') {
    logger.info('renewals: RENEWAL_SCHEDULE=off, this process grants nothing on a schedule');
    return { stop: async () => {} };
  }
  if (!cron.validate(schedule)) throw new Error(`RENEWAL_SCHEDULE "${schedule}" is not a cron expression`);
  let running: Promise<void> | null = null;
  // The start-up run and a scheduled one must not overlap either.
  const runOnce = () =>
    (running ??= Promise.all([
      renewDueSubscriptions(ctx, { logger }).then(
        (run) => onRun?.(run),
        (error: unknown) => logger.error({ err: error }, 'renewals: run failed; the next one tries again'),
      ),
      settleUnknownCharges(ctx, { logger }).catch((error: unknown) => logger.error({ err: error }, 'auto-reload settler: run failed; the next one tries again')),
      landScheduledWrites(ctx, { logger }).catch((error: unknown) => logger.error({ err: error }, 'scheduled writes: run failed; the next one tries again')),
    ])
      .then(() => {})
      .finally(() => {
        running = null;
      }));
  const task = cron.schedule(schedule, runOnce, { name: 'renewals', noOverlap: true });
  void runOnce();
  logger.info({ schedule }, 'renewals: scheduled');
  return {
    stop: async () => {
      await task.stop();
      await running;
    },
  };
}
