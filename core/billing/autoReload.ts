import type { CoreContext } from '../context.js';
import { type CreditkeeperError, isCreditkeeperError } from '../errors.js';
import { maxBalance } from '../ledger/accountLedger.js';
import { writePurchase } from '../ledger/purchase.js';
import { lockAccountStatement } from '../ledger/writeStatements.js';
import { monthStartSql } from './autoReloadSettings.js';

/**
 * Seed 002: "If Auto Reload is enabled and a submission's cost was too high for the bare balance,
 * the system charged your card for a small top up and continued." Called with the spend's denial:
 * reserves one top-up, charges it through the payment gateway and posts it as an "Auto reload"
 * purchase, so the spend can be tried again. Returns false (the denial stands) when auto-reload is
 * off, the top-up would not cover the shortfall, this month's limit would be passed or the balance
 * would pass its maximum. A failed or timed-out charge throws PAYMENT_FAILED. The top-up's key
 * derives from the spend's, and the gateway gets it too, so a retried spend never charges twice.
 */
export async function autoReload(ctx: CoreContext, spend: { accountId: string; idempotencyKey: string }, denial: CreditkeeperError): Promise<boolean> {
  if (!ctx.payments) return false;
  // Outside the spend's own `<key>#…` keys: a replay of the spend answers with the spend alone.
  const reloadKey = `auto-reload#${spend.idempotencyKey}`;
  const reservation = await reserveTopUp(ctx, spend.accountId, reloadKey, BigInt(denial.details.required as string));
  if (reservation === 'refused') return false;
  if (reservation === 'no top-up needed') return true;
  let chargeId: string;
  try {
    ({ chargeId } = await ctx.payments.charge({ accountId: spend.accountId, credits: reservation.credits, idempotencyKey: reloadKey }));
  } catch (error) {
    // A declined charge took no money, so its room goes back to the month. A timeout may have
    // charged: the reservation stays, and the spend's retry asks the gateway again under the same key.
    if (isCreditkeeperError(error, 'PAYMENT_FAILED') && error.details.reason === 'declined') {
      await ctx.db.sql.query('DELETE FROM auto_reload_reservations WHERE account_id = $1::uuid AND idempotency_key = $2', [spend.accountId, reloadKey]);
    }
    throw error;
  }
  await writePurchase(
    ctx,
    {
      accountId: spend.accountId,
      idempotencyKey: reloadKey,
      actor: { kind: 'SYSTEM' },
      type: 'AUTO_RELOAD',
      amount: reservation.credits,
      source: { kind: 'payment', id: chargeId, label: 'Auto reload charge' },
      description: undefined,
    },
    { alreadyCharged: true },
  );
  return true;
}

/**
 * Decides the top-up holding the account's row lock, the lock every ledger write on it takes to
 * land, so no other write or reservation interleaves with the decision: the month's reservations
 * (charged or being charged) plus this one stay within the limit. A retry finds its own
 * reservation and goes on with it; one whose purchase already landed needs none.
 */
async function reserveTopUp(
  ctx: CoreContext,
  accountId: string,
  reloadKey: string,
  required: bigint,
): Promise<{ credits: bigint } | 'refused' | 'no top-up needed'> {
  return ctx.db.sql.transaction(async (tx) => {
    const [locked] = await tx.query(lockAccountStatement, [accountId], 'creditkeeper_lock_account');
    if (!locked) return 'refused';
    // A statement of its own after the lock: it sees every write that landed before the lock was taken.
    const [state] = await tx.query<{
      landed: boolean;
      reserved: string | null;
      enabled: boolean | null;
      amount: string | null;
      monthly_limit: string;
      reserved_this_month: string;
      spendable: string;
      outstanding: string;
    }>(
      `SELECT EXISTS (SELECT FROM entries e WHERE e.account_id = a.id AND e.idempotency_key = $2) AS landed,
         (SELECT r.credits FROM auto_reload_reservations r WHERE r.account_id = a.id AND r.idempotency_key = $2) AS reserved,
         s.enabled, s.amount, s.monthly_limit,
         (SELECT coalesce(sum(r.credits), 0) FROM auto_reload_reservations r
          WHERE r.account_id = a.id AND r.reserved_at >= ${monthStartSql}) AS reserved_this_month,
         (SELECT coalesce(sum(b.remaining), 0) FROM buckets b
          WHERE b.account_id = a.id AND b.remaining > 0 AND (b.expires_at IS NULL OR b.expires_at > clock_timestamp())) AS spendable,
         a.outstanding
       FROM accounts a LEFT JOIN auto_reload_settings s ON s.account_id = a.id WHERE a.id = $1::uuid`,
      [accountId, reloadKey],
    );
    if (state!.landed) return 'no top-up needed';
    if (state!.reserved !== null) return { credits: BigInt(state!.reserved) };
    if (!state!.enabled) return 'refused';
    const amount = BigInt(state!.amount!);
    const spendable = BigInt(state!.spendable);
    // Another top-up or purchase landed since the spend was denied.
    if (spendable >= required) return 'no top-up needed';
    // The top-up pays what is owed first, so it must cover that too.
    if (amount < required - spendable + BigInt(state!.outstanding)) return 'refused';
    if (BigInt(state!.reserved_this_month) + amount > BigInt(state!.monthly_limit)) return 'refused';
    if (spendable + amount > maxBalance) return 'refused';
    await tx.query(
      'INSERT INTO auto_reload_reservations (account_id, idempotency_key, credits, reserved_at) VALUES ($1::uuid, $2, $3, clock_timestamp())',
      [accountId, reloadKey, amount.toString()],
    );
    return { credits: amount };
  });
}
