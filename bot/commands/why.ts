import { z } from 'zod';
import { findAccount } from '../../core/accounts/findAccount.js';
import { readFromReplica } from '../../core/db/readReplica.js';
import { explainBalance } from '../../core/reports/why.js';
import { command } from '../command.js';
import { accountOption, linkedUser } from './options.js';

export const why = command({
  name: 'why',
  description: 'Why your balance is what it is: everything since your last grant, adding up',
  staff: false,
  options: z.strictObject({
    account: accountOption,
    since: z.coerce.date({ message: 'since must be a date, like 2026-11-01' }).optional().describe('explain from this date'),
    expected: z.string().regex(/^\d{1,16}$/, 'expected must be a whole number of credits').optional().describe('the balance you expected'),
  }),
  run: async (ctx, caller, options) => {
    const account = await findAccount(ctx, { userExternalId: linkedUser(caller), ...(options.account && { account: options.account }) });
    const explanation = await readFromReplica(ctx, account.accountId, (reads) =>
      explainBalance(reads, {
        accountId: account.accountId,
        ...(options.since && { since: options.since }),
        ...(options.expected && { expectedBalance: options.expected }),
      }),
    );
    return { kind: 'why', account: account.label, explanation, timeZone: caller.timeZone ?? account.timeZone };
  },
});
