import type { CoreContext } from '../context.js';
import type { AutoReloadChargeStatus } from '../db/generated/enums.js';
import type { CreditkeeperError } from '../errors.js';
import { maxBalance } from '../ledger/accountLedger.js';
import { lockAccountStatement } from '../ledger/writeStatements.js';
import { autoReloadChargeKey } from './autoReloadCharges.js';
import { chargeReservation } from './chargeReservation.js';
import { monthStartSql } from './autoReloadSettings.js';

/**
 * Tops the account up after a spend's denial so the spend can be retried: false (the denial stands) when not allowed,
 * PAYMENT_FAILED when the charge fails. Its key derives from the spend's, so a retry asks about the same charge.
 */
export async function autoReload(ctx: CoreContext, spend: { accountId: string; idempotencyKey: string }, denial: CreditkeeperError): Promise<boolean> {
  if (!ctx.payments) return false;
  const chargeKey = autoReloadChargeKey(spend.idempotencyKey);
  const reservation = await reserveTopUp(ctx, spend.accountId, chargeKey, BigInt(denial.details.required as string));
  if (reservation === 'refused') return false;
  if (reservation === 'no top-up needed') return true;
  await chargeReservation(ctx, ctx.payments, { accountId: spend.accountId, chargeKey, credits: reservation.credits });
  return true;
}

/** What the top-up decision reads: the account, its settings, this month's reservations, and the reservation of this charge key. */
interface TopUpState {
  landed: boolean;
  reserved: string | null;
  reserved_status: AutoReloadChargeStatus | null;
  enabled: boolean | null;
  amount: string | null;
  monthly_limit: string;
  reserved_this_month: string;
  spendable: string;
  outstanding: string;
}

const topUpStateStatement = `SELECT EXISTS (SELECT FROM entries e WHERE e.account_id = a.id AND e.idempotency_key = $2) AS landed,
     r.credits AS reserved, r.status AS reserved_status,
     s.enabled, s.amount, s.monthly_limit,
     (SELECT coalesce(sum(r.credits), 0) FROM auto_reload_reservations r
      WHERE r.account_id = a.id AND r.status <> 'DECLINED' AND r.reserved_at >= ${monthStartSql}) AS reserved_this_month,
     (SELECT coalesce(sum(b.remaining), 0) FROM buckets b
      WHERE b.account_id = a.id AND b.remaining > 0 AND (b.expires_at IS NULL OR b.expires_at > clock_timestamp())) AS spendable,
     a.outstanding
   FROM accounts a LEFT JOIN auto_reload_settings s ON s.account_id = a.id
     LEFT JOIN auto_reload_reservations r ON r.account_id = a.id AND r.idempotency_key = $2
   WHERE a.id = $1::uuid`;

/** A new top-up for a spend needing `required`: its credits, or why there is none. */
function newTopUp(state: TopUpState, required: bigint): { credits: bigint } | 'refused' | 'no top-up needed' {
  if (!state.enabled) return 'refused';
  const amount = BigInt(state.amount!);
  const spendable = BigInt(state.spendable);
  // Another top-up or purchase landed since the spend was denied.
  if (spendable >= required) return 'no top-up needed';
  // The top-up pays what is owed first, so it must cover that too.
  if (amount < required - spendable + BigInt(state.outstanding)) return 'refused';
  if (BigInt(state.reserved_this_month) + amount > BigInt(state.monthly_limit)) return 'refused';
  if (spendable + amount > maxBalance) return 'refused';
  return { credits: amount };
}

/** For a quote: the top-up auto-reload would charge for a spend needing `required` now (null: none, the spend would be refused). Reads only. */
export async function previewAutoReload(ctx: CoreContext, accountId: string, required: bigint): Promise<bigint | null> {
  if (!ctx.payments) return null;
  const [state] = await ctx.db.sql.query<TopUpState>(topUpStateStatement, [accountId, '']);
  const topUp = state ? newTopUp(state, required) : 'refused';
  return typeof topUp === 'object' ? topUp.credits : null;
}

/**
 * Decided under the account's row lock (every ledger write takes it), so the month's reservations stay within
 * the limit; the attempt is recorded before the host is asked, and a retry finds its own reservation.
 */
async function reserveTopUp(
  ctx: CoreContext,
  accountId: string,
  chargeKey: string,
  required: bigint,
): Promise<{ credits: bigint } | 'refused' | 'no top-up needed'> {
  return ctx.db.sql.transaction(async (tx) => {
    const [locked] = await tx.query(lockAccountStatement, [accountId], 'creditkeeper_lock_account');
    if (!locked) return 'refused';
    // A statement of its own after the lock: it sees every write that landed before the lock was taken.
    const [state] = await tx.query<TopUpState>(topUpStateStatement, [accountId, chargeKey]);
    if (state!.landed) return 'no top-up needed';
    if (state!.reserved !== null && state!.reserved_status !== 'DECLINED') {
      await tx.query(
        `UPDATE auto_reload_reservations SET status = 'PENDING', attempts = attempts + 1, last_attempt_at = clock_timestamp()
         WHERE account_id = $1::uuid AND idempotency_key = $2`,
        [accountId, chargeKey],
      );
      return { credits: BigInt(state!.reserved) };
    }
    const topUp = newTopUp(state!, required);
    if (typeof topUp !== 'object') return topUp;
    const amount = topUp.credits;
    await tx.query(
      `INSERT INTO auto_reload_reservations (account_id, idempotency_key, credits, reserved_at, status, attempts, last_attempt_at)
       VALUES ($1::uuid, $2, $3, clock_timestamp(), 'PENDING', 1, clock_timestamp())
       ON CONFLICT (account_id, idempotency_key) DO UPDATE SET credits = EXCLUDED.credits, reserved_at = EXCLUDED.reserved_at,
         status = 'PENDING', attempts = auto_reload_reservations.attempts + 1, last_attempt_at = EXCLUDED.last_attempt_at, settled_at = NULL`,
      [accountId, chargeKey, amount.toString()],
    );
    return { credits: amount };
  });
}
