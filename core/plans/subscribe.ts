import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { date, ledgerWriteBase, parseInput, timeZone } from '../input.js';
import { keyUse } from '../ledger/keyUse.js';
import { ledgerWrite, requestHashOf } from '../ledger/ledgerWrite.js';
import { lastAnniversary, periodContaining } from './billingPeriod.js';
import { changePlan, type SubscriptionResult } from './changePlan.js';
import { findPlan } from './planCatalog.js';
import { findSubscription, periodFields, saveSubscription } from './subscriptionRecord.js';
import { stagePlanGrant } from './stagePlanGrant.js';

export const subscribeInput = z.strictObject({
  ...ledgerWriteBase,
  plan: z.string().min(1).max(50),
  /** Periods are counted in this zone: a monthly plan renews on the same local day and time. */
  timeZone: timeZone.default('UTC'),
  /**
   * The billing anniversary; default now. One in the past (a subscriber moved from another
   * system) starts in the period that contains now, without granting the earlier ones.
   */
  anchorAt: date.optional(),
  /**
   * Or just the day of the month it renews on (1–31; the 29th–31st renew on the last day of
   * shorter months): the anchor is then that day's most recent midnight in the time zone.
   */
  anniversaryDay: z.number().int().min(1).max(31).optional(),
}).refine((s) => s.anchorAt === undefined || s.anniversaryDay === undefined, {
  message: 'give anchorAt or anniversaryDay, not both',
  path: ['anniversaryDay'],
});

/**
 * Puts an account on a plan (on a subscribed one: a plan change). The grant is written before the subscription
 * so a retry under the key replays the grant and saves the subscription.
 */
export async function subscribe(ctx: CoreContext, input: z.input<typeof subscribeInput>): Promise<SubscriptionResult> {
  const request = parseInput(subscribeInput, input);
  const plan = findPlan(ctx.plans, request.plan);
  const existing = await findSubscription(ctx.db.sql, request.accountId);
  const used = await keyUse(ctx, request.accountId, request.idempotencyKey);
  // On an active subscription this is a plan change, unless it is the retry of this very subscribe.
  const retried = used?.requestHash === requestHashOf('subscribe', request);
  if (existing?.status === 'ACTIVE' && !retried) {
    return changePlan(ctx, { accountId: request.accountId, idempotencyKey: request.idempotencyKey, actor: request.actor, origin: request.origin, plan: request.plan });
  }
  // The anniversary and the current period, as of the moment the grant is (or was) written.
  const cycleAt = (now: Date) => {
    const anchorAt = request.anchorAt ?? (request.anniversaryDay ? lastAnniversary(request.anniversaryDay, request.timeZone, now) : now);
    return { anchorAt, period: periodContaining(anchorAt, request.timeZone, plan.period, now) };
  };
  let cycle: ReturnType<typeof cycleAt> | undefined;
  const write = await ledgerWrite(ctx, {
    accountId: request.accountId,
    idempotencyKey: request.idempotencyKey,
    operation: 'subscribe',
    request,
    batchable: true,
    write: (ledger) => {
      cycle = cycleAt(ledger.now);
      if (cycle.anchorAt.getTime() > ledger.now.getTime()) {
        throw new CreditkeeperError('VALIDATION_FAILED', 'anchorAt: cannot be in the future', { issues: [{ path: 'anchorAt', message: 'cannot be in the future' }] });
      }
      stagePlanGrant(ledger, { plan, ...cycle, timeZone: request.timeZone, idempotencyKey: request.idempotencyKey });
    },
  });
  if (write.replayed) {
    // Saved already, unless the first attempt stopped between its grant and its save; then the
    // subscription is missing, or is one cancelled before this grant.
    const grantedAt = used?.at ?? write.entries[0]!.createdAt;
    const saved = existing && (existing.status === 'ACTIVE' || existing.cancelledAt! > grantedAt);
    if (saved) return { subscription: existing, write };
    cycle = cycleAt(grantedAt);
  }
  const subscription = await saveSubscription(ctx.db.sql, {
    accountId: request.accountId,
    plan: plan.id,
    timeZone: request.timeZone,
    anchorAt: cycle!.anchorAt,
    ...periodFields(cycle!.period),
  });
  return { subscription, write };
}
