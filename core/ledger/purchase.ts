import { z } from 'zod';
import { ensureActorMay } from '../access/memberPermission.js';
import type { CoreContext } from '../context.js';
import { ledgerWriteBase, parseInput, positiveCredits, source } from '../input.js';
import type { AccountLedger } from './accountLedger.js';
import { defaultPriority, entryTypes } from './entryTypes.js';
import { ledgerWrite, type WriteResult } from './ledgerWrite.js';

export const purchaseInput = z.strictObject({
  ...ledgerWriteBase,
  amount: positiveCredits,
  /** AUTO_RELOAD: a top-up charged automatically because a spend needed it. */
  type: z.enum(['PURCHASE', 'AUTO_RELOAD']).default('PURCHASE'),
  description: z.string().trim().min(1).max(200).optional(),
  /** The order or payment this purchase came from. */
  source: source.optional(),
});

/** Adds bought credits: they never expire and are drawn last (purchased credits roll over). */
export async function purchase(ctx: CoreContext, input: z.input<typeof purchaseInput>): Promise<WriteResult> {
  const request = parseInput(purchaseInput, input);
  await ensureActorMay(ctx, request, 'purchase');
  return writePurchase(ctx, request);
}

/**
 * A purchase already validated, under any key: auto-reload's top-up uses one derived from its
 * spend's, and lands past the maximum balance if it must, its card being already charged.
 */
export function writePurchase(ctx: CoreContext, request: z.infer<typeof purchaseInput>, options: { alreadyCharged?: boolean } = {}): Promise<WriteResult> {
  return ledgerWrite(ctx, {
    accountId: request.accountId,
    idempotencyKey: request.idempotencyKey,
    operation: 'purchase',
    request,
    batchable: true,
    write: (ledger) => stagePurchase(ledger, request, options),
  });
}

/** Stages a purchase's entry and its never-expiring bucket: what a purchase writes and a quote's auto-reload previews. */
export function stagePurchase(
  ledger: AccountLedger,
  request: Pick<z.infer<typeof purchaseInput>, 'type' | 'amount' | 'description' | 'source' | 'actor'>,
  options: { alreadyCharged?: boolean } = {},
): void {
  ledger.post({
    type: request.type,
    description: request.description ?? entryTypes[request.type].label,
    movements: [ledger.addBucket('PURCHASED', request.amount, null, defaultPriority.PURCHASED)],
    source: request.source,
    actor: request.actor,
    alreadyCharged: options.alreadyCharged,
  });
}
