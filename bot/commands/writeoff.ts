import { z } from 'zod';
import { writeOff } from '../../core/ledger/writeOff.js';
import { command } from '../command.js';
import { staffWrite } from './staffWrite.js';
import { accountIdOption, creditsOption, reasonOption } from './options.js';

export const writeoff = command({
  name: 'writeoff',
  description: 'Staff: write credits off, with a reason',
  staff: true,
  options: z.strictObject({ account: accountIdOption, amount: creditsOption, reason: reasonOption }),
  run: async (ctx, caller, options) => ({
    kind: 'posted',
    what: 'Write-off',
    result: await writeOff(ctx, {
      accountId: options.account,
      ...staffWrite(caller),
      amount: options.amount,
      reason: options.reason,
    }),
  }),
});
