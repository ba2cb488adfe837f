import type { CoreContext } from '../context.js';
import { isCreditkeeperError } from '../errors.js';
import type { Logger } from '../logger.js';
import { chargeReservation } from './chargeReservation.js';

export interface ChargeSettlement {
  /** False when another process held the settler's lock (or no payment webhook is configured). */
  ran: boolean;
  confirmed: number;
  declined: number;
  /** Asked again and still unanswered: the next run asks again. */
  stillUnknown: number;
}

// Any fixed number, the same in every process: the key of the settler's advisory lock.
const settlerLockKey = 7_301_002;
/** Without a gateway timeout to go by, a PENDING attempt this old is taken as abandoned. */
const defaultAbandonedAfterMs = 60_000;

/**
 * Asks again, under each charge's own key, about UNKNOWN charges and PENDING ones older than twice the timeout
 * (their asker died); the host answers without charging again. One process at a time (advisory lock).
 */
export async function settleUnknownCharges(ctx: CoreContext, options: { logger: Logger; batchSize?: number }): Promise<ChargeSettlement> {
  const { logger, batchSize = 100 } = options;
  const payments = ctx.payments;
  if (!payments) return { ran: false, confirmed: 0, declined: 0, stillUnknown: 0 };
  const abandonedAfterMs = payments.timeoutMs ? 2 * payments.timeoutMs : defaultAbandonedAfterMs;
  return ctx.db.sql.withSession(async (session) => {
    const [lock] = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [settlerLockKey]);
    if (!lock?.locked) return { ran: false, confirmed: 0, declined: 0, stillUnknown: 0 };
    const run: ChargeSettlement = { ran: true, confirmed: 0, declined: 0, stillUnknown: 0 };
    try {
      const [started] = await session.query<{ at: Date }>('SELECT clock_timestamp() AS at');
      for (;;) {
        // Records the attempt before asking; charges asked in this run have a later attempt, so they are not picked again.
        const due = await session.query<{ account_id: string; idempotency_key: string; credits: string }>(
          `UPDATE auto_reload_reservations r SET status = 'PENDING', attempts = r.attempts + 1, last_attempt_at = clock_timestamp()
           FROM (SELECT account_id, idempotency_key FROM auto_reload_reservations
                 WHERE status IN ('PENDING', 'UNKNOWN') AND last_attempt_at < $1::timestamptz
                   AND (status = 'UNKNOWN' OR last_attempt_at < clock_timestamp() - $2::int * interval '1 millisecond')
                 ORDER BY last_attempt_at LIMIT $3) d
           WHERE r.account_id = d.account_id AND r.idempotency_key = d.idempotency_key
           RETURNING r.account_id, r.idempotency_key, r.credits::text AS credits`,
          [started!.at, abandonedAfterMs, batchSize],
        );
        if (due.length === 0) break;
        for (const charge of due) {
          const reservation = { accountId: charge.account_id, chargeKey: charge.idempotency_key, credits: BigInt(charge.credits) };
          try {
            await chargeReservation(ctx, payments, reservation);
            run.confirmed += 1;
          } catch (error) {
            if (isCreditkeeperError(error, 'PAYMENT_FAILED') && error.details.chargeStatus === 'DECLINED') run.declined += 1;
            else {
              run.stillUnknown += 1;
              logger.warn({ err: error, accountId: reservation.accountId, chargeKey: reservation.chargeKey }, 'auto-reload charge still unsettled');
            }
          }
        }
      }
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [settlerLockKey]);
    }
    if (run.confirmed + run.declined + run.stillUnknown > 0) logger.info(run, 'auto-reload charges: settler run done');
    return run;
  });
}
