import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { ledgerWriteBase, note, parseInput, reasonRequired, staffGivesReason, uuid } from '../input.js';
import { findEntry } from './findEntry.js';
import { ledgerWrite, type WriteResult } from './ledgerWrite.js';

export const reversePurchaseInput = z
  .strictObject({
    ...ledgerWriteBase,
    entryId: uuid,
    reason: note.optional(),
  })
  .refine(staffGivesReason, reasonRequired);

/**
 * Takes back a reversed purchase (affiliate refund), from its own bucket first; what was already spent becomes
 * outstanding.
 */
export async function reversePurchase(ctx: CoreContext, input: z.input<typeof reversePurchaseInput>): Promise<WriteResult> {
  const request = parseInput(reversePurchaseInput, input);
  return ledgerWrite(ctx, {
    accountId: request.accountId,
    idempotencyKey: request.idempotencyKey,
    operation: 'reversePurchase',
    request,
    write: async (ledger, tx) => {
      const original = await findEntry(tx, ledger.accountId, request.entryId);
      if (original.type !== 'PURCHASE' && original.type !== 'AUTO_RELOAD') {
        throw new CreditkeeperError('NOT_REVERSIBLE', `A ${original.type} entry cannot be reversed`, {
          entryId: original.id,
          type: original.type,
        });
      }
      const [state] = await tx.query<{ reversed: boolean; bucket_id: string }>(
        `SELECT EXISTS (SELECT 1 FROM entries WHERE account_id = $2::uuid AND corrects_id = $1::uuid AND type = 'PURCHASE_REVERSAL') AS reversed,
           (SELECT bucket_id FROM movements WHERE account_id = $2::uuid AND entry_id = $1::uuid LIMIT 1) AS bucket_id`,
        [original.id, ledger.accountId],
      );
      if (state!.reversed) {
        throw new CreditkeeperError('ALREADY_REVERSED', 'This purchase was already reversed', { entryId: original.id });
      }
      const { movements, taken } = ledger.drawUpTo(original.amount, state!.bucket_id);
      ledger.post({
        type: 'PURCHASE_REVERSAL',
        description:
          taken === original.amount
            ? `Purchase reversed: ${original.amount} credits taken back`
            : `Purchase reversed: ${taken} credits taken back, ${original.amount - taken} outstanding`,
        movements,
        outstandingDelta: original.amount - taken,
        source: { kind: 'entry', id: original.id },
        actor: request.actor,
        note: request.reason,
        correctsId: original.id,
      });
    },
  });
}
