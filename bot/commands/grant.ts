import { z } from 'zod';
import { grant as grantCredits } from '../../core/ledger/grant.js';
import { command } from '../command.js';
import { staffWrite } from './staffWrite.js';
import { accountIdOption, creditsOption, reasonOption } from './options.js';

export const grant = command({
  name: 'grant',
  description: 'Staff: grant credits into a bucket (bonus, promo, reward), optionally expiring, with a reason',
  staff: true,
  options: z.strictObject({
    account: accountIdOption,
    bucket: z.enum(['bonus', 'promo', 'reward']).default('bonus').describe('which kind of credits'),
    amount: creditsOption,
    expires: z.coerce.date({ message: 'expires must be a date, like 2026-12-31' }).optional().describe('when they expire'),
    reason: reasonOption,
  }),
  run: async (ctx, caller, options) => ({
    kind: 'posted',
    what: 'Grant',
    result: await grantCredits(ctx, {
      accountId: options.account,
      ...staffWrite(caller),
      type: 'MANUAL_CREDIT',
      bucket: options.bucket.toUpperCase() as 'BONUS',
      amount: options.amount,
      ...(options.expires && { expiresAt: options.expires }),
      reason: options.reason,
    }),
  }),
});
