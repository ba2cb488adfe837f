import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ensureActorMay } from '../access/memberPermission.js';
import type { CoreContext } from '../context.js';
import { autoReload } from '../billing/autoReload.js';
import { CreditkeeperError, isCreditkeeperError } from '../errors.js';
import { date, ledgerWriteBase, note, parseInput, positiveCredits, source } from '../input.js';
import { actionUse, type Price, priceAction } from '../pricing/priceList.js';
import type { AccountLedger } from './accountLedger.js';
import { depositOfEntry } from './findDeposit.js';
import { ledgerWrite, type WriteResult } from './ledgerWrite.js';

const explicitCharge = z.strictObject({
  amount: positiveCredits,
  category: z.string().trim().min(1).max(100),
  description: z.string().trim().min(1).max(200),
  /** Part of the amount to reconcile after delivery (a deposit). */
  held: positiveCredits.optional(),
});

export const spendInput = z
  .strictObject({
    ...ledgerWriteBase,
    charge: z.union([actionUse, explicitCharge]),
    /** The entry keeps the original amount and the discount that applied. */
    discountPercent: z.number().int().min(1).max(100).optional(),
    source: source.optional(),
    note: note.optional(),
    /** When the usage happened, if before this write (a late event): its reports count it then. */
    occurredAt: date.optional(),
  })
  .refine((s) => !('held' in s.charge) || s.charge.held === undefined || s.charge.held <= s.charge.amount, {
    message: 'held cannot exceed amount',
    path: ['charge', 'held'],
  });

export type SpendRequest = z.infer<typeof spendInput>;

export interface SpendResult extends WriteResult {
  /** Set when the charge included a deposit to reconcile after delivery. */
  depositId: string | null;
}

/** What a usage request costs: its price (with any deposit part) and what is charged after the discount. */
export interface UsageCharge {
  price: Price;
  charged: bigint;
}

export function usageCharge(ctx: Pick<CoreContext, 'priceList'>, request: Pick<SpendRequest, 'charge' | 'discountPercent'>): UsageCharge {
  const price: Price =
    'action' in request.charge
      ? priceAction(ctx.priceList, request.charge)
      : { ...request.charge, held: request.charge.held ?? 0n, action: '', quantity: 1 };
  if (request.discountPercent && price.held > 0n) {
    throw new CreditkeeperError('VALIDATION_FAILED', 'A discount cannot apply to a charge with a deposit');
  }
  const charged = request.discountPercent ? (price.amount * BigInt(100 - request.discountPercent)) / 100n : price.amount;
  return { price, charged };
}

/** How far back usage may be reported (as Stripe's meter events), and how far ahead of the ledger's clock a caller's may run. */
export const lateUsageLimitDays = 35;
export const clockSkewMinutes = 5;

/**
 * When late usage happened, judged against the write's own time so a retry replays after the window passed;
 * refused beyond the skew ahead, the age limit or the account's opening; a little ahead counts as now (undefined).
 */
export function occurredAtOf(now: Date, occurredAt: Date | undefined, openedAt: Date | null): Date | undefined {
  if (!occurredAt) return undefined;
  const limit = new Date(now.getTime() - lateUsageLimitDays * 86_400_000);
  const beforeOpening = openedAt !== null && openedAt > limit;
  const earliest = beforeOpening ? openedAt : limit;
  const latest = new Date(now.getTime() + clockSkewMinutes * 60_000);
  if (occurredAt < earliest || occurredAt > latest) {
    const why = occurredAt > latest ? 'is in the future' : beforeOpening ? 'is before the account was opened' : `is more than ${lateUsageLimitDays} days ago`;
    throw new CreditkeeperError('VALIDATION_FAILED', `occurredAt: ${why} (accepted: ${earliest.toISOString()} to ${latest.toISOString()})`, {
      issues: [{ path: 'occurredAt', message: why }],
      earliest: earliest.toISOString(),
      latest: latest.toISOString(),
    });
  }
  return occurredAt < now ? occurredAt : undefined;
}

/**
 * Stages the usage entry on the ledger (and its deposit, returning the deposit's id): what a spend
 * writes and a quote previews; usage reported late is bounded by the ledger's time and the account's opening.
 */
export function stageUsage(
  ledger: AccountLedger,
  request: Omit<SpendRequest, 'accountId' | 'idempotencyKey' | 'origin'>,
  { price, charged }: UsageCharge,
): string | null {
  const occurredAt = occurredAtOf(ledger.now, request.occurredAt, ledger.openedAt);
  const entry = ledger.post({
    type: price.held > 0n ? 'DEPOSIT' : 'USAGE',
    category: price.category,
    action: price.action || undefined,
    quantity: price.action ? price.quantity : undefined,
    description: price.description,
    movements: charged === 0n ? [] : ledger.draw(charged),
    originalAmount: request.discountPercent ? -price.amount : undefined,
    discountPercent: request.discountPercent,
    source: request.source,
    actor: request.actor,
    note: request.note,
    occurredAt,
  });
  if (price.held === 0n) return null;
  const depositId = randomUUID();
  ledger.newDeposits.push({ id: depositId, entryId: entry.id, charged, held: price.held, action: price.action || null });
  return depositId;
}

/**
 * Charges usage (a deposit part is one entry plus an in-flight deposit). Denied with INSUFFICIENT_CREDITS,
 * writing nothing, unless auto-reload tops the account up first.
 */
export async function spend(ctx: CoreContext, input: z.input<typeof spendInput>): Promise<SpendResult> {
  const request = parseInput(spendInput, input);
  await ensureActorMay(ctx, request, 'spend');
  const cost = usageCharge(ctx, request);
  let depositId: string | null = null;

  const charge = () => ledgerWrite(ctx, {
    accountId: request.accountId,
    idempotencyKey: request.idempotencyKey,
    operation: 'spend',
    request,
    batchable: true,
    write: (ledger) => {
      depositId = stageUsage(ledger, request, cost);
    },
  });
  const result = await charge().catch(async (error: unknown) => {
    if (isCreditkeeperError(error, 'INSUFFICIENT_CREDITS') && (await autoReload(ctx, request, error))) return charge();
    throw error;
  });
  if (result.replayed && cost.price.held > 0n) depositId = await depositOfEntry(ctx.db.sql, request.accountId, result.entries[0]!.id);
  return { ...result, depositId };
}
