import type { CoreContext } from '../context.js';
import type { SqlSession } from '../db/sqlRunner.js';
import { ledgerWrite, type WriteResult } from '../ledger/ledgerWrite.js';
import { type Period, periodAt } from './billingPeriod.js';
import { findPlan, type Plan } from './planCatalog.js';
import type { SubscriptionRecord } from './subscriptionRecord.js';
import { stagePlanGrant } from './stagePlanGrant.js';

/**
 * Renews one subscription for its next period; the key names subscription and period and it moves on only from the
 * period it was in, so two runs or processes grant and move once.
 */
export async function renewSubscription(ctx: CoreContext, subscription: SubscriptionRecord): Promise<{ write: WriteResult; advanced: boolean }> {
  const renewal = nextRenewal(ctx, subscription);
  const write = await grantRenewal(ctx, renewal);
  const [advanced] = await advanceSubscriptions(ctx.db.sql, [renewal]);
  return { write, advanced: advanced! };
}

/** What renewing a subscription grants: its plan's next period, under that period's key. */
export interface Renewal {
  subscription: SubscriptionRecord;
  plan: Plan;
  period: Period;
  idempotencyKey: string;
}

export function nextRenewal(ctx: CoreContext, subscription: SubscriptionRecord): Renewal {
  const plan = findPlan(ctx.plans, subscription.plan);
  const period = periodAt(subscription.anchorAt, subscription.timeZone, plan.period, subscription.periodIndex + 1);
  return { subscription, plan, period, idempotencyKey: renewalKey(subscription.id, period) };
}

/** The ledger half of a renewal: the period's grant, under its key. */
export function grantRenewal(ctx: CoreContext, { subscription, plan, period, idempotencyKey }: Renewal): Promise<WriteResult> {
  const request = { actor: { kind: 'SYSTEM' as const }, subscriptionId: subscription.id, periodStart: period.start };
  return ledgerWrite(ctx, {
    accountId: subscription.accountId,
    idempotencyKey,
    operation: 'renew',
    request,
    batchable: true,
    write: (ledger) => stagePlanGrant(ledger, { plan, anchorAt: subscription.anchorAt, timeZone: subscription.timeZone, period, idempotencyKey }),
  });
}

/**
 * The subscription half, one statement a batch: each moves on only from the period it was in and while active,
 * so a concurrent run, plan change or cancellation wins; says which moved.
 */
export async function advanceSubscriptions(session: SqlSession, renewed: { subscription: SubscriptionRecord; period: Period }[]): Promise<boolean[]> {
  const moved = await session.query<{ id: string }>(
    `UPDATE subscriptions s SET period_index = r.period_index, period_start = r.period_start, period_end = r.period_end,
       updated_at = clock_timestamp()
     FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::timestamptz[], $5::int[], $6::uuid[])
       AS r(id, period_index, period_start, period_end, from_index, account_id)
     WHERE s.account_id = r.account_id AND s.id = r.id AND s.period_index = r.from_index AND s.status = 'ACTIVE'
     RETURNING s.id`,
    [
      renewed.map((r) => r.subscription.id),
      renewed.map((r) => r.period.index),
      renewed.map((r) => r.period.start.toISOString()),
      renewed.map((r) => r.period.end.toISOString()),
      renewed.map((r) => r.subscription.periodIndex),
      renewed.map((r) => r.subscription.accountId),
    ],
  );
  const ids = new Set(moved.map((m) => m.id));
  return renewed.map((r) => ids.has(r.subscription.id));
}

/** The period's number and start: a restarted cycle counts from 0 again, at a later start. */
export function renewalKey(subscriptionId: string, period: Period): string {
  return `renewal:${subscriptionId}:${period.index}:${period.start.toISOString()}`;
}
