import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { ledgerWriteBase, nonNegativeCredits, parseInput, uuid } from '../input.js';
import { priceDelivery } from '../pricing/priceList.js';
import { findInFlightDeposit } from './findDeposit.js';
import { ledgerWrite, type WriteResult } from './ledgerWrite.js';
import { drawnAndNotReturned, returnCredits } from './returnDrawn.js';

export const reconcileDepositInput = z.strictObject({
  ...ledgerWriteBase,
  depositId: uuid,
  /** What the deposited part actually cost: an amount, or the delivered seconds of each clip. */
  actual: z.union([
    z.strictObject({ amount: nonNegativeCredits }),
    z.strictObject({ deliveredSeconds: z.array(z.number().min(0).max(86_400)).min(1).max(1000) }),
  ]),
});

/**
 * After delivery: unused deposit comes back, an overrun is charged, and what the balance cannot cover becomes
 * outstanding, which later additions pay first.
 */
export async function reconcileDeposit(ctx: CoreContext, input: z.input<typeof reconcileDepositInput>): Promise<WriteResult> {
  const request = parseInput(reconcileDepositInput, input);
  return ledgerWrite(ctx, {
    accountId: request.accountId,
    idempotencyKey: request.idempotencyKey,
    operation: 'reconcileDeposit',
    request,
    write: async (ledger, tx) => {
      const deposit = await findInFlightDeposit(tx, ledger.accountId, request.depositId);
      let actual: bigint;
      if ('amount' in request.actual) actual = request.actual.amount;
      else if (deposit.action) actual = priceDelivery(ctx.priceList, deposit.action, request.actual.deliveredSeconds);
      else {
        throw new CreditkeeperError('VALIDATION_FAILED', 'This deposit was an explicit amount: reconcile it with an amount');
      }
      const unused = deposit.held - actual;
      let entry;
      if (unused >= 0n) {
        entry = ledger.post({
          type: 'DEPOSIT_RECONCILIATION',
          description:
            unused === 0n
              ? `Deposit reconciled: delivered exactly the ${deposit.held} deposited`
              : `Deposit reconciled: ${unused} unused credits refunded`,
          movements: unused === 0n ? [] : returnCredits(ledger, await drawnAndNotReturned(ledger, tx, deposit.entryId), unused),
          source: deposit.source,
          actor: request.actor,
          correctsId: deposit.entryId,
        });
      } else {
        const extra = -unused;
        const { movements, taken } = ledger.drawUpTo(extra);
        entry = ledger.post({
          type: 'DEPOSIT_RECONCILIATION',
          description:
            taken === extra
              ? `Deposit reconciled: ${extra} credits beyond the deposit charged`
              : `Deposit reconciled: ${extra} credits beyond the deposit, ${taken} charged, ${extra - taken} outstanding`,
          movements,
          outstandingDelta: extra - taken,
          source: deposit.source,
          actor: request.actor,
          correctsId: deposit.entryId,
        });
      }
      ledger.settledDeposits.push({ id: deposit.id, status: 'RECONCILED', settledEntryId: entry.id, actualAmount: actual });
    },
  });
}
