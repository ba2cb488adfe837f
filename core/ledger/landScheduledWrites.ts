import type { CoreContext } from '../context.js';
import type { SqlSession } from '../db/sqlRunner.js';
import { type ErrorCode, isCreditkeeperError } from '../errors.js';
import { parseInput } from '../input.js';
import type { Logger } from '../logger.js';
import { grantInput, writeGrant } from './grant.js';
import { purchaseInput, writePurchase } from './purchase.js';
import { auditStepSql } from './scheduledWrites.js';

// Any fixed number, the same in every process: the key of this job's advisory lock.
const landingLockKey = 7_301_003;

/** Refusals that a later run would get again: the schedule is marked failed instead of retried. */
const lasting: readonly ErrorCode[] = ['VALIDATION_FAILED', 'ACCOUNT_NOT_FOUND', 'IDEMPOTENCY_CONFLICT', 'BALANCE_LIMIT_EXCEEDED', 'ROLE_FORBIDDEN'];

/**
 * Lands every due dated write (also those due while no process ran), each under its schedule's key so a run
 * dying mid-way lands nothing twice. One process at a time (advisory lock).
 */
export async function landScheduledWrites(ctx: CoreContext, options: { logger: Logger; batchSize?: number }): Promise<{ ran: boolean; landed: number; alreadyLanded: number; failed: number }> {
  const { logger, batchSize = 200 } = options;
  return ctx.db.sql.withSession(async (session) => {
    const [lock] = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [landingLockKey]);
    if (!lock?.locked) return { ran: false, landed: 0, alreadyLanded: 0, failed: 0 };
    const run = { ran: true, landed: 0, alreadyLanded: 0, failed: 0 };
    try {
      for (;;) {
        const due = await session.query<{ id: string; account_id: string; operation: 'grant' | 'purchase'; request: Record<string, unknown> }>(
          // FOR UPDATE waits for a cancel in progress and reads its outcome: once this has seen a
          // schedule due, a cancel (only before it is due, by the same clock) can no longer succeed.
          `SELECT id, account_id, operation, request FROM scheduled_writes
           WHERE landed_at IS NULL AND failure IS NULL AND cancelled_at IS NULL AND effective_at <= clock_timestamp()
           ORDER BY effective_at, id LIMIT $1 FOR UPDATE`,
          [batchSize],
        );
        if (due.length === 0) break;
        for (const scheduled of due) {
          try {
            const write = scheduled.operation === 'grant'
              ? await writeGrant(ctx, parseInput(grantInput, scheduled.request))
              : await writePurchase(ctx, parseInput(purchaseInput, scheduled.request));
            await mark(session, scheduled, 'landed', 'landed_entry_id = $2::uuid, landed_at = clock_timestamp()', write.entries[0]!.id);
            // A replay: an earlier run (or a concurrent one in the same session, as PGlite's) wrote it.
            if (write.replayed) run.alreadyLanded += 1;
            else run.landed += 1;
          } catch (error) {
            if (!isCreditkeeperError(error) || !lasting.includes(error.code)) throw error;
            await mark(session, scheduled, 'failed', 'failure = $2', `${error.code}: ${error.message}`);
            logger.warn({ scheduledId: scheduled.id, code: error.code }, 'scheduled write could not land');
            run.failed += 1;
          }
        }
      }
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [landingLockKey]);
    }
    if (run.landed + run.failed > 0) logger.info(run, 'scheduled writes: run done');
    return run;
  });
}

/**
 * Marks a schedule landed or failed and audits it, as the one who scheduled it (by the cron), in
 * one statement: a second run marking it again (a replay) changes and records nothing.
 */
async function mark(session: SqlSession, scheduled: { id: string; account_id: string }, step: 'landed' | 'failed', set: string, value: string): Promise<void> {
  await session.query(
    `WITH changed AS (UPDATE scheduled_writes SET ${set} WHERE account_id = $3::uuid AND id = $1::uuid AND landed_at IS NULL AND failure IS NULL RETURNING *)
     ${auditStepSql(step, `changed.request->'actor'`, `'{"transport":"cron"}'::jsonb`)}`,
    [scheduled.id, value, scheduled.account_id],
  );
}
