import { z } from 'zod';
import { findAccount } from '../../core/accounts/findAccount.js';
import { readFromReplica } from '../../core/db/readReplica.js';
import { getActivity } from '../../core/reports/activity.js';
import { command } from '../command.js';
import { accountOption, linkedUser } from './options.js';

/** Chat shows ten rows a page: an embed or a message stays readable on a phone. */
export const chatPageSize = 10;

export const activity = command({
  name: 'activity',
  description: 'Your credit activity, newest first (All / Added / Used / Adjustments)',
  staff: false,
  options: z.strictObject({
    account: accountOption,
    filter: z.enum(['all', 'added', 'used', 'adjustments']).default('all').describe('which movements'),
    page: z.string().max(200).optional().describe('a page cursor (the buttons fill it in)'),
  }),
  run: async (ctx, caller, options) => {
    const account = await findAccount(ctx, { userExternalId: linkedUser(caller), ...(options.account && { account: options.account }) });
    const page = await readFromReplica(ctx, account.accountId, (reads) =>
      getActivity(reads, {
        accountId: account.accountId,
        filter: options.filter.toUpperCase() as 'ALL',
        pageSize: chatPageSize,
        ...(options.page && { cursor: options.page }),
      }),
    );
    return { kind: 'activity', account: account.label, filter: options.filter, page, timeZone: caller.timeZone ?? account.timeZone };
  },
});
