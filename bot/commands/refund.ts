import { z } from 'zod';
import { refund as refundEntry } from '../../core/ledger/refund.js';
import { command } from '../command.js';
import { accountIdOption, creditsOption, reasonOption } from './options.js';

export const refund = command({
  name: 'refund',
  description: 'Staff: refund a usage entry (all of it, or an amount), with a reason',
  staff: true,
  options: z.strictObject({
    account: accountIdOption,
    entry: z.uuid({ message: 'entry must be an entry id' }).describe('the usage entry'),
    amount: creditsOption.optional(),
    reason: reasonOption,
  }),
  run: async (ctx, caller, options) => ({
    kind: 'posted',
    what: 'Refund',
    result: await refundEntry(ctx, {
      accountId: options.account,
      idempotencyKey: caller.interactionId,
      actor: { kind: 'STAFF', id: caller.userExternalId },
      origin: { transport: caller.transport, requestId: caller.interactionId },
      entryId: options.entry,
      ...(options.amount !== undefined && { amount: options.amount }),
      reason: options.reason,
    }),
  }),
});
