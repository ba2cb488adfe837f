import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { ledgerWriteBase, note, parseInput, positiveCredits, reasonRequired, staffGivesReason, uuid } from '../input.js';
import { findEntry } from './findEntry.js';
import { ledgerWrite, type WriteResult } from './ledgerWrite.js';
import { drawnAndNotReturned, returnCredits, sumDrawn } from './returnDrawn.js';

export const refundInput = z
  .strictObject({
    ...ledgerWriteBase,
    entryId: uuid,
    /** Defaults to everything not yet refunded. */
    amount: positiveCredits.optional(),
    reason: note.optional(),
  })
  .refine(staffGivesReason, reasonRequired);

/** Gives back the credits of a usage entry, to the buckets they came from. */
export async function refund(ctx: CoreContext, input: z.input<typeof refundInput>): Promise<WriteResult> {
  const request = parseInput(refundInput, input);
  return ledgerWrite(ctx, {
    accountId: request.accountId,
    idempotencyKey: request.idempotencyKey,
    operation: 'refund',
    request,
    write: async (ledger, tx) => {
      const original = await findEntry(tx, ledger.accountId, request.entryId);
      if (original.type !== 'USAGE') {
        throw new CreditkeeperError('NOT_REFUNDABLE', `A ${original.type} entry cannot be refunded`, {
          entryId: original.id,
          type: original.type,
        });
      }
      const drawn = await drawnAndNotReturned(ledger, tx, original.id);
      const refundable = sumDrawn(drawn);
      const amount = request.amount ?? refundable;
      if (amount === 0n || amount > refundable) {
        throw new CreditkeeperError('REFUND_EXCEEDS_CHARGE', `Only ${refundable} credits of this entry can be refunded`, {
          refundable: refundable.toString(),
        });
      }
      ledger.post({
        type: 'REFUND',
        category: original.category ?? undefined,
        description: `Refund: ${original.description}`,
        movements: returnCredits(ledger, drawn, amount),
        source: { kind: 'entry', id: original.id },
        actor: request.actor,
        note: request.reason,
        correctsId: original.id,
      });
    },
  });
}
