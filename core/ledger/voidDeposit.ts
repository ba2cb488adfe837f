import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { ledgerWriteBase, note, parseInput, reasonRequired, staffGivesReason, uuid } from '../input.js';
import { findInFlightDeposit } from './findDeposit.js';
import { ledgerWrite, type WriteResult } from './ledgerWrite.js';
import { drawnAndNotReturned, returnCredits } from './returnDrawn.js';

export const voidDepositInput = z
  .strictObject({
    ...ledgerWriteBase,
    depositId: uuid,
    reason: note.optional(),
  })
  .refine(staffGivesReason, reasonRequired);

/** Cancels an in-flight submission: everything it charged comes back (submission refund). */
export async function voidDeposit(ctx: CoreContext, input: z.input<typeof voidDepositInput>): Promise<WriteResult> {
  const request = parseInput(voidDepositInput, input);
  return ledgerWrite(ctx, {
    accountId: request.accountId,
    idempotencyKey: request.idempotencyKey,
    operation: 'voidDeposit',
    request,
    write: async (ledger, tx) => {
      const deposit = await findInFlightDeposit(tx, ledger.accountId, request.depositId);
      const entry = ledger.post({
        type: 'DEPOSIT_VOID',
        description: `Submission cancelled: ${deposit.charged} credits refunded`,
        movements: returnCredits(ledger, await drawnAndNotReturned(ledger, tx, deposit.entryId), deposit.charged),
        source: deposit.source,
        actor: request.actor,
        note: request.reason,
        correctsId: deposit.entryId,
      });
      ledger.settledDeposits.push({ id: deposit.id, status: 'VOIDED', settledEntryId: entry.id, actualAmount: null });
    },
  });
}
