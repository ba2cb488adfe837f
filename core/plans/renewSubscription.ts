import type { CoreContext } from '../context.js';
import { ledgerWrite, type WriteResult } from '../ledger/ledgerWrite.js';
import { type Period, periodAt } from './billingPeriod.js';
import { findPlan } from './planCatalog.js';
import type { SubscriptionRecord } from './subscriptionRecord.js';
import { stagePlanGrant } from './stagePlanGrant.js';

/**
 * Renews one subscription for the one period that follows its current one: the plan credits
 * left stop, with an entry saying how many, and the new allocation lands (seed 002). The key
 * names the subscription and the period, so two runs, or two processes, grant once; the
 * subscription moves on only from the period it was in, so it moves once too. A subscription
 * several periods behind (the process was down) is renewed once per missed period.
 */
export async function renewSubscription(ctx: CoreContext, subscription: SubscriptionRecord): Promise<{ write: WriteResult; advanced: boolean }> {
  const plan = findPlan(ctx.plans, subscription.plan);
  const period = periodAt(subscription.anchorAt, subscription.timeZone, plan.period, subscription.periodIndex + 1);
  const idempotencyKey = renewalKey(subscription.id, period);
  const request = { actor: { kind: 'SYSTEM' as const }, subscriptionId: subscription.id, periodStart: period.start };
  const write = await ledgerWrite(ctx, {
    accountId: subscription.accountId,
    idempotencyKey,
    operation: 'renew',
    request,
    batchable: true,
    write: (ledger) => stagePlanGrant(ledger, { plan, anchorAt: subscription.anchorAt, timeZone: subscription.timeZone, period, idempotencyKey }),
  });
  const moved = await ctx.db.sql.query(
    `UPDATE subscriptions SET period_index = $2, period_start = $3, period_end = $4, updated_at = clock_timestamp()
     WHERE id = $1::uuid AND period_index = $5 AND status = 'ACTIVE' RETURNING id`,
    [subscription.id, period.index, period.start, period.end, subscription.periodIndex],
  );
  return { write, advanced: moved.length > 0 };
}

/** The period's number and start: a restarted cycle counts from 0 again, at a later start. */
export function renewalKey(subscriptionId: string, period: Period): string {
  return `renewal:${subscriptionId}:${period.index}:${period.start.toISOString()}`;
}
