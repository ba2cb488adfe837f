import type { CoreContext } from '../context.js';
import { CreditkeeperError, isCreditkeeperError } from '../errors.js';
import type { PaymentGateway } from './paymentGateway.js';
import { confirmCharge, declineCharge } from './settleCharge.js';

/**
 * Charges a reserved top-up under its key: charged lands the purchase, declined frees the room, no answer stays
 * UNKNOWN (it may have charged) for a retry or the settler. Throws PAYMENT_FAILED unless it landed.
 */
export async function chargeReservation(
  ctx: CoreContext,
  payments: PaymentGateway,
  reservation: { accountId: string; chargeKey: string; credits: bigint },
): Promise<void> {
  const { accountId, chargeKey, credits } = reservation;
  let chargeId: string;
  try {
    ({ chargeId } = await payments.charge({ accountId, credits, idempotencyKey: chargeKey }));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (isCreditkeeperError(error, 'PAYMENT_FAILED') && error.details.reason === 'declined') {
      try {
        await declineCharge(ctx, { accountId, chargeKey, reason });
      } catch (settled) {
        // The host confirmed it meanwhile (its callback came first): the top-up is there.
        if (isCreditkeeperError(settled, 'CHARGE_ALREADY_SETTLED')) return;
        throw settled;
      }
      throw new CreditkeeperError('PAYMENT_FAILED', reason, { ...error.details, chargeKey, chargeStatus: 'DECLINED' });
    }
    // A timeout, an unreachable host, or a failure on this side mid-call: the card may have been charged.
    await ctx.db.sql.query(
      `UPDATE auto_reload_reservations SET status = 'UNKNOWN', last_error = $3
       WHERE account_id = $1::uuid AND idempotency_key = $2 AND status = 'PENDING'`,
      [accountId, chargeKey, reason],
    );
    if (!isCreditkeeperError(error, 'PAYMENT_FAILED')) throw error;
    throw new CreditkeeperError('PAYMENT_FAILED', `${reason}; the charge's outcome stays unknown until the host is asked again`, {
      ...error.details,
      chargeKey,
      chargeStatus: 'UNKNOWN',
    });
  }
  await confirmCharge(ctx, { accountId, chargeKey, chargeId });
}
