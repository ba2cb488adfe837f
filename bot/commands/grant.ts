import { z } from 'zod';
import { parseLocalDateTime } from '../../core/localDateTime.js';
import { grantOrSchedule } from '../../core/ledger/scheduleGrant.js';
import { reportTimeZone } from '../../core/reports/timeZone.js';
import { command } from '../command.js';
import { staffWrite } from './staffWrite.js';
import { accountIdOption, accountLabel, creditsOption, dateTimeOption, reasonOption } from './options.js';

export const grant = command({
  name: 'grant',
  description: 'Staff: grant credits into a bucket (bonus, promo, reward), now or on a date, optionally expiring, with a reason',
  staff: true,
  options: z.strictObject({
    account: accountIdOption,
    bucket: z.enum(['bonus', 'promo', 'reward']).default('bonus').describe('which kind of credits'),
    amount: creditsOption,
    effective: dateTimeOption.optional().describe('when they land, like 2027-01-03 09:00 (your zone); default now'),
    expires: dateTimeOption.optional().describe('when they expire, like 2027-12-31 23:59 (your zone)'),
    reason: reasonOption,
  }),
  run: async (ctx, caller, options) => {
    // Times are read in the zone the reply names: a date typed is the date meant.
    const timeZone = await reportTimeZone(ctx, options.account, caller.timeZone);
    const result = await grantOrSchedule(ctx, {
      accountId: options.account,
      ...staffWrite(caller),
      type: 'MANUAL_CREDIT',
      bucket: options.bucket.toUpperCase() as 'BONUS',
      amount: options.amount,
      ...(options.expires && { expiresAt: parseLocalDateTime(options.expires, timeZone, 'expires') }),
      ...(options.effective && { effectiveAt: parseLocalDateTime(options.effective, timeZone, 'effective') }),
      reason: options.reason,
    });
    if ('entries' in result) return { kind: 'posted', what: 'Grant', result };
    const change = result.replayed ? 'replayed' : 'scheduled';
    return { kind: 'scheduled', account: await accountLabel(ctx, options.account), accountId: options.account, change, scheduled: [result.scheduled], timeZone };
  },
});
