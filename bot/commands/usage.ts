import { z } from 'zod';
import { findAccount } from '../../core/accounts/findAccount.js';
import { readFromReplica } from '../../core/db/readReplica.js';
import { getDailyUsage } from '../../core/reports/dailyUsage.js';
import { getMonthlySummary } from '../../core/reports/monthlySummary.js';
import { command } from '../command.js';
import { accountOption, linkedUser } from './options.js';

export const usage = command({
  name: 'usage',
  description: 'Daily usage over the last 30 days, and this month against the three before',
  staff: false,
  options: z.strictObject({ account: accountOption }),
  run: async (ctx, caller, options) => {
    const account = await findAccount(ctx, { userExternalId: linkedUser(caller), ...options });
    const timeZone = caller.timeZone ?? account.timeZone;
    const [daily, monthly] = await readFromReplica(ctx, account.accountId, (reads) =>
      Promise.all([getDailyUsage(reads, { accountId: account.accountId, timeZone }), getMonthlySummary(reads, { accountId: account.accountId, timeZone })]),
    );
    return { kind: 'usage', account: account.label, daily, monthly, timeZone };
  },
});
