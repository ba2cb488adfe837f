import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { ledgerWriteBase, parseInput } from '../input.js';
import { keyUse } from '../ledger/keyUse.js';
import { ledgerWrite, type WriteResult } from '../ledger/ledgerWrite.js';
import { defaultPriority } from '../ledger/entryTypes.js';
import { periodAt } from './billingPeriod.js';
import { findPlan, type Plan, planGrant } from './planCatalog.js';
import { planCreditsExpiry, planKinds, stagePlanGrant } from './stagePlanGrant.js';
import { activeSubscription, periodFields, saveSubscription, type SubscriptionRecord } from './subscriptionRecord.js';

export const changePlanInput = z.strictObject({
  ...ledgerWriteBase,
  plan: z.string().min(1).max(50),
});

/** What subscribe and changePlan return. */
export interface SubscriptionResult {
  subscription: SubscriptionRecord;
  /** The ledger write that went with it (the first grant, or a plan change's proration). */
  write: WriteResult | null;
}

/**
 * Changes plan: same period length prorates the difference over the time left (README, Plans, renewals); another length
 * starts a new cycle now, as at a renewal.
 */
export async function changePlan(ctx: CoreContext, input: z.input<typeof changePlanInput>): Promise<SubscriptionResult> {
  const request = parseInput(changePlanInput, input);
  const subscription = await activeSubscription(ctx, request.accountId);
  const plan = findPlan(ctx.plans, request.plan);
  const usedAt = (await keyUse(ctx, request.accountId, request.idempotencyKey))?.at;
  if (subscription.plan === plan.id && !usedAt) return { subscription, write: null };
  const current = Object.hasOwn(ctx.plans, subscription.plan) ? findPlan(ctx.plans, subscription.plan) : null;
  const restart = current?.period !== plan.period;
  let restartedAt: Date | undefined;

  const write = await ledgerWrite(ctx, {
    accountId: request.accountId,
    idempotencyKey: request.idempotencyKey,
    operation: 'changePlan',
    request,
    batchable: true,
    write: (ledger) => {
      if (restart) {
        restartedAt = ledger.now;
        const period = periodAt(ledger.now, subscription.timeZone, plan.period, 0);
        stagePlanGrant(ledger, { plan, anchorAt: ledger.now, timeZone: subscription.timeZone, period, idempotencyKey: request.idempotencyKey });
        return;
      }
      const prorated = proration(current, plan, subscription, ledger.now);
      const { bucket } = planGrant(plan);
      const period = { index: subscription.periodIndex, start: subscription.periodStart, end: subscription.periodEnd };
      const movements = [];
      if (prorated > 0n) {
        const expiresAt = planCreditsExpiry(plan, subscription.anchorAt, subscription.timeZone, period);
        movements.push(ledger.addBucket(bucket, prorated, expiresAt, defaultPriority[bucket]));
      }
      let owed = -prorated;
      for (const live of ledger.live(planKinds)) {
        if (owed <= 0n) break;
        const taken = live.remaining < owed ? live.remaining : owed;
        movements.push(ledger.take(live, taken));
        owed -= taken;
      }
      ledger.post({
        type: 'PRORATION',
        description: `Mid cycle proration: ${current!.name} → ${plan.name}`,
        movements,
        source: { kind: 'plan', id: plan.id, label: `${plan.name} plan` },
        actor: request.actor,
      });
    },
  });
  // A replay whose save was made (the subscription changed since) changes nothing more.
  if (write.replayed && subscription.updatedAt > usedAt!) return { subscription, write };
  const restartAnchor = restartedAt ?? (write.replayed ? usedAt! : undefined);
  const saved = await saveSubscription(ctx.db.sql, {
    ...subscription,
    plan: plan.id,
    ...(restart && restartAnchor && { anchorAt: restartAnchor, ...periodFields(periodAt(restartAnchor, subscription.timeZone, plan.period, 0)) }),
  });
  return { subscription: saved, write };
}

/** Credits the rest of the current period is worth on the new plan minus on the old, toward zero. */
function proration(current: Plan | null, next: Plan, subscription: SubscriptionRecord, now: Date): bigint {
  const length = BigInt(subscription.periodEnd.getTime() - subscription.periodStart.getTime());
  const left = BigInt(Math.max(0, subscription.periodEnd.getTime() - now.getTime()));
  return ((BigInt(next.allocation) - BigInt(current?.allocation ?? 0)) * left) / length;
}
