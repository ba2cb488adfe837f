import { z } from 'zod';
import { previewAutoReload } from '../billing/autoReload.js';
import type { CoreContext } from '../context.js';
import { type ErrorCode, isCreditkeeperError } from '../errors.js';
import { actor, parseInput, uuid } from '../input.js';
import { type BucketMove, previewWrite } from './previewWrite.js';
import { stagePurchase } from './purchase.js';
import { spendInput, stageUsage, usageCharge } from './spend.js';

export const quoteUsageInput = z.strictObject({
  accountId: uuid,
  charge: spendInput.shape.charge,
  discountPercent: spendInput.shape.discountPercent,
  source: spendInput.shape.source,
  occurredAt: spendInput.shape.occurredAt,
  /** Who would spend (the entries a quote shows name them); the role is checked when spending. */
  actor: actor.default({ kind: 'SERVICE' }),
});

export interface UsageQuote {
  /** What the usage costs: the price list's amount (with its deposit part) and, after any discount, what is charged. */
  cost: { category: string; description: string; quantity: number; amount: bigint; deposit: bigint; charged: bigint; discountPercent: number | null };
  /** Whether a spend now would go through (perhaps after an auto-reload). */
  affordable: boolean;
  balanceBefore: bigint;
  /** The balance and what is owed after the spend (and its auto-reload); as before when refused. */
  balanceAfter: bigint;
  outstandingAfter: bigint;
  /** Each bucket it would move, net: drawn (negative) or added to (an auto-reload's purchase), in the order first moved. */
  buckets: BucketMove[];
  /** The top-up auto-reload would charge first, or null. */
  autoReload: { credits: bigint } | null;
  /** Why a spend now would be refused, with the code the spend would get. */
  refusal: { code: ErrorCode; message: string; details: Record<string, unknown> } | null;
}

/**
 * "Can this user afford it?" without spending: cost, balance after, buckets, auto-reload or the refusal, staged
 * exactly as the spend stages it (previewWrite) so the answer matches the spend's.
 */
export async function quoteUsage(ctx: CoreContext, input: z.input<typeof quoteUsageInput>): Promise<UsageQuote> {
  const request = parseInput(quoteUsageInput, input);
  const charge = usageCharge(ctx, request);
  const cost = {
    category: charge.price.category,
    description: charge.price.description,
    quantity: charge.price.quantity,
    amount: charge.price.amount,
    deposit: charge.price.held,
    charged: charge.charged,
    discountPercent: request.discountPercent ?? null,
  };
  const preview = (autoReload: UsageQuote['autoReload']) =>
    previewWrite(ctx, request.accountId, (ledger) => {
      if (autoReload) {
        stagePurchase(ledger, { type: 'AUTO_RELOAD', amount: autoReload.credits, actor: { kind: 'SYSTEM' } });
        ledger.settleOutstanding();
      }
      stageUsage(ledger, request, charge);
    });
  let { before, outcome } = await preview(null);
  let autoReload: UsageQuote['autoReload'] = null;
  if ('refused' in outcome && isCreditkeeperError(outcome.refused, 'INSUFFICIENT_CREDITS')) {
    const topUp = await previewAutoReload(ctx, request.accountId, BigInt(outcome.refused.details.required as string));
    if (topUp !== null) {
      autoReload = { credits: topUp };
      ({ before, outcome } = await preview(autoReload));
    }
  }
  if (!('refused' in outcome)) {
    return { cost, affordable: true, balanceBefore: before.balance, balanceAfter: outcome.balance, outstandingAfter: outcome.outstanding, buckets: outcome.buckets, autoReload, refusal: null };
  }
  const { refused } = outcome;
  if (!refusals.includes(refused.code)) throw refused;
  return {
    cost, affordable: false, balanceBefore: before.balance, balanceAfter: before.balance, outstandingAfter: before.outstanding,
    buckets: [], autoReload: null, refusal: { code: refused.code, message: refused.message, details: refused.details },
  };
}

/** What a spend of this usage would be refused with, answered as the quote's refusal rather than as an error. */
const refusals: readonly ErrorCode[] = ['INSUFFICIENT_CREDITS', 'BALANCE_LIMIT_EXCEEDED'];
