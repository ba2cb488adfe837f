import type { AccountLedger } from '../ledger/accountLedger.js';
import { defaultPriority } from '../ledger/entryTypes.js';
import { type Period, periodAt } from './billingPeriod.js';
import { type Plan, planGrant } from './planCatalog.js';

export const planKinds = ['PLAN', 'WEEKLY'] as const;

/**
 * Stages a period's allocation: plan credits left expire first (all on a reset plan, those over the cap on a
 * rollover one); purchased credits are untouched; a period granted late, already over, expires at once.
 */
export function stagePlanGrant(
  ledger: AccountLedger,
  grant: { plan: Plan; anchorAt: Date; timeZone: string; period: Period; idempotencyKey: string },
): void {
  const { plan, period } = grant;
  let keep = BigInt(plan.unused === 'rollover' ? (plan.rolloverCap ?? 0) : 0);
  for (const bucket of ledger.live(planKinds)) {
    const kept = bucket.remaining < keep ? bucket.remaining : keep;
    keep -= kept;
    if (bucket.remaining > kept) ledger.expire(bucket, bucket.remaining - kept, `${grant.idempotencyKey}#unused:${bucket.id}`);
  }
  const { bucket, type } = planGrant(plan);
  const expiresAt = planCreditsExpiry(plan, grant.anchorAt, grant.timeZone, period);
  const granted = ledger.addBucket(bucket, BigInt(plan.allocation), expiresAt, defaultPriority[bucket]);
  ledger.post({
    type,
    description: `${type === 'PLAN_GRANT' ? 'Monthly' : 'Weekly'} grant: ${plan.name} plan`,
    movements: [granted],
    source: { kind: 'plan', id: plan.id, label: `${plan.name} plan` },
    actor: { kind: 'SYSTEM' },
  });
  if (ledger.isExpired({ expiresAt })) ledger.expire(ledger.bucket(granted.bucketId)!, granted.amount, `${grant.idempotencyKey}#over`);
}

/** When a period's plan credits stop: at its end, or a period later on a rollover plan. */
export function planCreditsExpiry(plan: Plan, anchorAt: Date, timeZone: string, period: Period): Date {
  return plan.unused === 'rollover' ? periodAt(anchorAt, timeZone, plan.period, period.index + 1).end : period.end;
}
