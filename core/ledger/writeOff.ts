import { z } from 'zod';
import { ensureActorMay } from '../access/memberPermission.js';
import type { CoreContext } from '../context.js';
import { ledgerWriteBase, parseInput, positiveCredits, reason } from '../input.js';
import { ledgerWrite, type WriteResult } from './ledgerWrite.js';

export const writeOffInput = z.strictObject({
  ...ledgerWriteBase,
  amount: positiveCredits,
  reason,
});

/** Removes credits for accounting or support reasons (credit writeoff). */
export async function writeOff(ctx: CoreContext, input: z.input<typeof writeOffInput>): Promise<WriteResult> {
  const request = parseInput(writeOffInput, input);
  await ensureActorMay(ctx, request, 'adjust');
  return ledgerWrite(ctx, {
    accountId: request.accountId,
    idempotencyKey: request.idempotencyKey,
    operation: 'writeOff',
    request,
    batchable: true,
    write: (ledger) => {
      ledger.post({
        type: 'WRITE_OFF',
        description: `Credit writeoff: ${request.amount}`,
        movements: ledger.draw(request.amount),
        actor: request.actor,
        note: request.reason,
      });
    },
  });
}
