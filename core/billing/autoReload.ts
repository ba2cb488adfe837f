import type { CoreContext } from '../context.js';
import type { CreditkeeperError } from '../errors.js';
import { keyUse } from '../ledger/keyUse.js';
import { writePurchase } from '../ledger/purchase.js';
import { getAutoReload } from './autoReloadSettings.js';

/**
 * Seed 002: "If Auto Reload is enabled and a submission's cost was too high for the bare balance,
 * the system charged your card for a small top up and continued." Called with the spend's denial:
 * charges one top-up through the payment gateway and posts it as an "Auto reload" purchase, so
 * the spend can be tried again. Returns false (the denial stands) when auto-reload is off, the
 * top-up would not cover the shortfall, or this month's limit would be passed. A failed or
 * timed-out charge throws PAYMENT_FAILED. The top-up's key derives from the spend's, and the
 * gateway gets it too, so a retried spend never charges twice.
 */
export async function autoReload(ctx: CoreContext, spend: { accountId: string; idempotencyKey: string }, denial: CreditkeeperError): Promise<boolean> {
  if (!ctx.payments) return false;
  // Outside the spend's own `<key>#…` keys: a replay of the spend answers with the spend alone.
  const reloadKey = `auto-reload#${spend.idempotencyKey}`;
  // The top-up landed on an earlier attempt, which then stopped short of the spend.
  if (await keyUse(ctx, spend.accountId, reloadKey)) return true;
  const settings = await getAutoReload(ctx, spend.accountId);
  if (!settings?.enabled) return false;
  const shortfall = BigInt(denial.details.required as string) - BigInt(denial.details.available as string);
  if (settings.amount < shortfall || settings.usedThisMonth + settings.amount > settings.monthlyLimit) return false;
  const { chargeId } = await ctx.payments.charge({ accountId: spend.accountId, credits: settings.amount, idempotencyKey: reloadKey });
  await writePurchase(ctx, {
    accountId: spend.accountId,
    idempotencyKey: reloadKey,
    actor: { kind: 'SYSTEM' },
    type: 'AUTO_RELOAD',
    amount: settings.amount,
    source: { kind: 'payment', id: chargeId, label: 'Auto reload charge' },
    description: undefined,
  });
  return true;
}
