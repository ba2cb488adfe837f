import { z } from 'zod';
import { refund as refundEntry } from '../../core/ledger/refund.js';
import { command } from '../command.js';
import { staffWrite } from './staffWrite.js';
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
      ...staffWrite(caller),
      entryId: options.entry,
      ...(options.amount !== undefined && { amount: options.amount }),
      reason: options.reason,
    }),
  }),
});
