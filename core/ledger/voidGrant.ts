import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { ledgerWriteBase, note, parseInput, reasonRequired, staffGivesReason, uuid } from '../input.js';
import { entryTypes } from './entryTypes.js';
import { findEntry } from './findEntry.js';
import { ledgerWrite, type WriteResult } from './ledgerWrite.js';

export const voidGrantInput = z
  .strictObject({
    ...ledgerWriteBase,
    /** The grant, reward or purchase whose credits are voided. */
    entryId: uuid,
    reason: note.optional(),
  })
  .refine(staffGivesReason, reasonRequired);

/**
 * Voids what is left of the bucket a grant or purchase opened, once; what was spent stays spent and nothing
 * becomes outstanding.
 */
export async function voidGrant(ctx: CoreContext, input: z.input<typeof voidGrantInput>): Promise<WriteResult> {
  const request = parseInput(voidGrantInput, input);
  return ledgerWrite(ctx, {
    accountId: request.accountId,
    idempotencyKey: request.idempotencyKey,
    operation: 'voidGrant',
    request,
    write: async (ledger, tx) => {
      const original = await findEntry(tx, ledger.accountId, request.entryId);
      if (entryTypes[original.type].class !== 'addition') {
        throw new CreditkeeperError('NOT_VOIDABLE', `A ${original.type} entry has no credits of its own to void`, { entryId: original.id, type: original.type });
      }
      const [state] = await tx.query<{ voided: boolean; bucket_id: string | null }>(
        `SELECT EXISTS (SELECT 1 FROM entries WHERE account_id = $2::uuid AND corrects_id = $1::uuid AND type = 'VOID') AS voided,
           (SELECT bucket_id FROM movements WHERE account_id = $2::uuid AND entry_id = $1::uuid AND amount > 0 LIMIT 1) AS bucket_id`,
        [original.id, ledger.accountId],
      );
      if (state!.voided) throw new CreditkeeperError('ALREADY_VOIDED', 'These credits were already voided', { entryId: original.id });
      const bucket = state!.bucket_id ? ledger.bucket(state!.bucket_id) : undefined;
      const left = bucket && !ledger.isExpired(bucket) ? bucket.remaining : 0n;
      if (left === 0n) throw new CreditkeeperError('NOTHING_TO_VOID', 'Nothing is left of these credits: all used or expired', { entryId: original.id });
      ledger.post({
        type: 'VOID',
        description: `${left} unused of ${original.amount} voided: ${original.description}`,
        movements: ledger.draw(left, bucket!.id),
        source: { kind: 'entry', id: original.id },
        actor: request.actor,
        note: request.reason,
        correctsId: original.id,
      });
    },
  });
}
