import { z } from 'zod';
import type { CoreContext } from '../context.js';
import type { BucketKind } from '../db/generated/enums.js';
import { parseInput, timeZone, uuid } from '../input.js';
import { type BalanceView, getBalance } from '../ledger/getBalance.js';
import { getMonthlySummary } from './monthlySummary.js';

export const balanceBreakdownInput = z.strictObject({ accountId: uuid, timeZone: timeZone.optional() });

export interface BalanceBreakdown {
  accountId: string;
  available: bigint;
  outstanding: bigint;
  /** Per kind of credit (plan, weekly, purchased, bonus…), soonest expiring first, with each lot's expiry. */
  kinds: { kind: BucketKind; remaining: bigint; nextExpiry: Date | null; lots: { remaining: bigint; expiresAt: Date | null }[] }[];
  inFlightDeposits: BalanceView['inFlightDeposits'];
  /** Seed 001: credits used in the current period (the calendar month, in the account's time zone). */
  usedThisPeriod: { period: string; used: bigint; transactions: number };
  /** Seed 004: what a credit costs, when the deployment configures it. */
  costPerCredit: { amount: string; currency: string } | null;
}

/** What /credits shows: what is available, what it is made of and when it expires, and how much was used. */
export async function getBalanceBreakdown(ctx: CoreContext, input: z.input<typeof balanceBreakdownInput>): Promise<BalanceBreakdown> {
  const request = parseInput(balanceBreakdownInput, input);
  const [balance, summary] = await Promise.all([
    getBalance(ctx, { accountId: request.accountId }),
    getMonthlySummary(ctx, request),
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
    costPerCredit: ctx.costPerCredit ?? null,
  };
}
