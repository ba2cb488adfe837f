import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput, uuid } from '../input.js';
import { writePurchase } from '../ledger/purchase.js';
import { type AutoReloadCharge, chargeColumns, chargeKey, type ChargeRow, toCharge } from './autoReloadCharges.js';

/** What the host says became of a charge: the card was charged (with its charge id), or not. */
export const chargeOutcome = z.discriminatedUnion('outcome', [
  z.strictObject({ outcome: z.literal('charged'), chargeId: z.string().trim().min(1).max(200) }),
  z.strictObject({ outcome: z.literal('declined'), reason: z.string().trim().min(1).max(500).optional() }),
]);

export const settleChargeInput = z.strictObject({ accountId: uuid, chargeKey, outcome: chargeOutcome });

/**
 * The host confirms (credited once, under the charge's key) or refuses (reservation released) a charge whose
 * answer was lost; repeating the same answer is a replay, refusing a credited one CHARGE_ALREADY_SETTLED.
 */
export async function settleCharge(ctx: CoreContext, input: z.input<typeof settleChargeInput>): Promise<AutoReloadCharge> {
  const { accountId, chargeKey: key, outcome } = parseInput(settleChargeInput, input);
  return outcome.outcome === 'charged'
    ? confirmCharge(ctx, { accountId, chargeKey: key, chargeId: outcome.chargeId })
    : declineCharge(ctx, { accountId, chargeKey: key, reason: outcome.reason ?? 'Declined by the host' });
}

type ChargeWithLanding = ChargeRow & { landed_charge_id: string | null; landed: boolean };

async function readCharge(ctx: CoreContext, accountId: string, key: string): Promise<ChargeWithLanding> {
  const [row] = await ctx.db.sql.query<ChargeWithLanding>(
    `SELECT ${chargeColumns}, e.id IS NOT NULL AS landed, e.source_id AS landed_charge_id
     FROM auto_reload_reservations r LEFT JOIN entries e ON e.account_id = r.account_id AND e.idempotency_key = r.idempotency_key
     WHERE r.account_id = $1::uuid AND r.idempotency_key = $2`,
    [accountId, key],
  );
  if (!row) throw new CreditkeeperError('CHARGE_NOT_FOUND', `No auto-reload charge ${key} on account ${accountId}`);
  return row;
}

/**
 * Purchase first, CONFIRMED after: a crash between leaves it unsettled and the next settle replays the purchase.
 * Confirmed after a decline, it is credited all the same: the card was charged.
 */
export async function confirmCharge(ctx: CoreContext, charge: { accountId: string; chargeKey: string; chargeId: string }): Promise<AutoReloadCharge> {
  const found = await readCharge(ctx, charge.accountId, charge.chargeKey);
  if (found.landed && found.landed_charge_id !== charge.chargeId) {
    throw new CreditkeeperError('CHARGE_ALREADY_SETTLED', `Charge ${charge.chargeKey} was credited as ${found.landed_charge_id}, not ${charge.chargeId}`, {
      chargeId: found.landed_charge_id,
    });
  }
  if (!found.landed) {
    await writePurchase(
      ctx,
      {
        accountId: charge.accountId,
        idempotencyKey: charge.chargeKey,
        actor: { kind: 'SYSTEM' },
        type: 'AUTO_RELOAD',
        amount: BigInt(found.credits),
        source: { kind: 'payment', id: charge.chargeId, label: 'Auto reload charge' },
        description: undefined,
      },
      { alreadyCharged: true },
    );
  }
  const [confirmed] = await ctx.db.sql.query<ChargeRow>(
    `UPDATE auto_reload_reservations r SET status = 'CONFIRMED', charge_id = $3, settled_at = coalesce(r.settled_at, clock_timestamp())
     WHERE r.account_id = $1::uuid AND r.idempotency_key = $2 RETURNING ${chargeColumns}`,
    [charge.accountId, charge.chargeKey, charge.chargeId],
  );
  return toCharge(confirmed!);
}

/** Marks the charge DECLINED, giving its room back to the month, unless its credits already landed. */
export async function declineCharge(ctx: CoreContext, charge: { accountId: string; chargeKey: string; reason: string }): Promise<AutoReloadCharge> {
  const [declined] = await ctx.db.sql.query<ChargeRow>(
    `UPDATE auto_reload_reservations r SET status = 'DECLINED', last_error = $3, settled_at = clock_timestamp()
     WHERE r.account_id = $1::uuid AND r.idempotency_key = $2 AND r.status IN ('PENDING', 'UNKNOWN')
       AND NOT EXISTS (SELECT FROM entries e WHERE e.account_id = r.account_id AND e.idempotency_key = r.idempotency_key)
     RETURNING ${chargeColumns}`,
    [charge.accountId, charge.chargeKey, charge.reason],
  );
  if (declined) return toCharge(declined);
  const found = await readCharge(ctx, charge.accountId, charge.chargeKey);
  if (found.landed || found.status === 'CONFIRMED') {
    throw new CreditkeeperError('CHARGE_ALREADY_SETTLED', `Charge ${charge.chargeKey} was already credited (${found.landed_charge_id}); refund it instead`, {
      chargeId: found.landed_charge_id,
    });
  }
  return toCharge(found);
}
