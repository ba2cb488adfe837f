import { z } from 'zod';
import { adjust as adjustBalance } from '../../core/ledger/adjust.js';
import { command } from '../command.js';
import { staffWrite } from './staffWrite.js';
import { accountIdOption, creditsOption, reasonOption } from './options.js';

export const adjust = command({
  name: 'adjust',
  description: 'Staff: add (or, negative, remove) credits, with a reason',
  staff: true,
  options: z.strictObject({ account: accountIdOption, amount: creditsOption, reason: reasonOption }),
  run: async (ctx, caller, options) => ({
    kind: 'posted',
    what: 'Adjustment',
    result: await adjustBalance(ctx, {
      accountId: options.account,
      ...staffWrite(caller),
      amount: options.amount,
      reason: options.reason,
    }),
  }),
});
