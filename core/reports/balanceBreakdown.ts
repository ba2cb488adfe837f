import { z } from 'zod';
import type { CoreContext } from '../context.js';
import type { BucketKind } from '../db/generated/enums.js';
import { parseInput, timeZone, uuid } from '../input.js';
import { type BalanceView, getBalance } from '../ledger/getBalance.js';
import { findPlan } from '../plans/planCatalog.js';
import { findSubscription, type SubscriptionRecord } from '../plans/subscriptionRecord.js';
import { getMonthlySummary } from './monthlySummary.js';
import { usedSince } from './usedSince.js';

export const balanceBreakdownInput = z.strictObject({ accountId: uuid, timeZone: timeZone.optional() });

export interface BalanceBreakdown {
  accountId: string;
  available: bigint;
  outstanding: bigint;
  /** Per kind of credit (plan, weekly, purchased, bonus…), soonest expiring first, with each lot's expiry. */
  kinds: { kind: BucketKind; remaining: bigint; nextExpiry: Date | null; lots: { remaining: bigint; expiresAt: Date | null }[] }[];
  inFlightDeposits: BalanceView['inFlightDeposits'];
  /** Credits used in the current period (the calendar month, in the account's time zone). */
  usedThisPeriod: { period: string; used: bigint; transactions: number };
  /**
   * The subscription, when there is one: the plan, when the next grant lands and what it brings,
   * and the "Total Used" in the billing period with its "Usage Rate" of the allocation.
   */
  plan: {
    id: string;
    name: string;
    status: 'ACTIVE' | 'CANCELLED';
    allocation: number;
    period: 'week' | 'month';
    periodStart: Date;
    periodEnd: Date;
    /** null once cancelled: nothing more will be granted. */
    nextGrant: { at: Date; credits: number } | null;
    usedThisPeriod: bigint;
    /** Percentage of the allocation used this period (may pass 100 with purchased credits), one decimal. */
    usageRatePercent: number;
  } | null;
  /** What a credit costs, when the deployment configures it. */
  costPerCredit: { amount: string; currency: string } | null;
}

/** What /credits shows: what is available, what it is made of and when it expires, and how much was used. */
export async function getBalanceBreakdown(ctx: CoreContext, input: z.input<typeof balanceBreakdownInput>): Promise<BalanceBreakdown> {
  const request = parseInput(balanceBreakdownInput, input);
  const [balance, summary, subscription] = await Promise.all([
    getBalance(ctx, { accountId: request.accountId }),
    getMonthlySummary(ctx, request),
    findSubscription(ctx.db.sql, request.accountId),
  ]);
  const kinds = new Map<BucketKind, BalanceBreakdown['kinds'][number]>();
  for (const bucket of balance.buckets) {
    const kind = kinds.get(bucket.kind) ?? { kind: bucket.kind, remaining: 0n, nextExpiry: bucket.expiresAt, lots: [] };
    kind.remaining += bucket.remaining;
    kind.lots.push({ remaining: bucket.remaining, expiresAt: bucket.expiresAt });
    kinds.set(bucket.kind, kind);
  }
  const current = summary.months.find((m) => m.current)!;
  return {
    accountId: request.accountId,
    available: balance.available,
    outstanding: balance.outstanding,
    kinds: [...kinds.values()],
    inFlightDeposits: balance.inFlightDeposits,
    usedThisPeriod: { period: current.month, used: current.used, transactions: current.transactions },
    plan: subscription && (await planStatus(ctx, subscription)),
    costPerCredit: ctx.costPerCredit ?? null,
  };
}

async function planStatus(ctx: CoreContext, subscription: SubscriptionRecord): Promise<BalanceBreakdown['plan']> {
  const plan = Object.hasOwn(ctx.plans, subscription.plan) ? findPlan(ctx.plans, subscription.plan) : null;
  if (!plan) return null; // a plan since removed from the catalogue: nothing true to say about it
  const { used } = await usedSince(ctx, subscription.accountId, subscription.periodStart);
  return {
    id: plan.id,
    name: plan.name,
    status: subscription.status,
    allocation: plan.allocation,
    period: plan.period,
    periodStart: subscription.periodStart,
    periodEnd: subscription.periodEnd,
    nextGrant: subscription.status === 'ACTIVE' ? { at: subscription.periodEnd, credits: plan.allocation } : null,
    usedThisPeriod: used,
    usageRatePercent: Math.round((Number(used) / plan.allocation) * 1000) / 10,
  };
}
