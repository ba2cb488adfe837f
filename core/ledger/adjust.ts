import { z } from 'zod';
import { ensureActorMay } from '../access/memberPermission.js';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { futureDate, ledgerWriteBase, parseInput, reason, signedCredits } from '../input.js';
import { defaultPriority } from './entryTypes.js';
import { ledgerWrite, type WriteResult } from './ledgerWrite.js';

export const adjustInput = z.strictObject({
  ...ledgerWriteBase,
  /** Positive adds credits, negative removes them. */
  amount: signedCredits,
  reason,
  /** Where added credits go (default: a bonus bucket that never expires). */
  bucket: z.enum(['PLAN', 'WEEKLY', 'PURCHASED', 'BONUS', 'REWARD', 'PROMO']).default('BONUS'),
  expiresAt: futureDate.optional(),
});

/** A staff correction with a reason (admin adjustment, with notes). */
export async function adjust(ctx: CoreContext, input: z.input<typeof adjustInput>): Promise<WriteResult> {
  const request = parseInput(adjustInput, input);
  await ensureActorMay(ctx, request, 'adjust');
  return ledgerWrite(ctx, {
    accountId: request.accountId,
    idempotencyKey: request.idempotencyKey,
    operation: 'adjust',
    request,
    batchable: true,
    write: (ledger) => {
      const expiresAt = request.expiresAt ?? null;
      if (expiresAt && ledger.isExpired({ expiresAt })) {
        throw new CreditkeeperError('VALIDATION_FAILED', 'expiresAt must be in the future', { path: 'expiresAt' });
      }
      const adding = request.amount > 0n;
      ledger.post({
        type: 'ADJUSTMENT',
        description: adding ? `Admin adjustment: +${request.amount}` : `Admin adjustment: ${request.amount}`,
        movements: adding
          ? [ledger.addBucket(request.bucket, request.amount, expiresAt, defaultPriority[request.bucket])]
          : ledger.draw(-request.amount),
        actor: request.actor,
        note: request.reason,
      });
    },
  });
}
