import { z } from 'zod';
import { findAccount } from '../../core/accounts/findAccount.js';
import { getBalanceBreakdown } from '../../core/reports/balanceBreakdown.js';
import { command } from '../command.js';
import { accountOption, linkedUser } from './options.js';

export const credits = command({
  name: 'credits',
  description: 'What you have, what it is made of, and when it expires',
  staff: false,
  options: z.strictObject({ account: accountOption }),
  run: async (ctx, caller, options) => {
    const account = await findAccount(ctx, { userExternalId: linkedUser(caller), ...options });
    const timeZone = caller.timeZone ?? account.timeZone;
    const breakdown = await getBalanceBreakdown(ctx, { accountId: account.accountId, timeZone });
    return { kind: 'credits', account: account.label, breakdown, timeZone };
  },
});
