import { z } from 'zod';
import { cancelScheduledWrite } from '../../core/ledger/cancelScheduledWrite.js';
import { reportTimeZone } from '../../core/reports/timeZone.js';
import { command } from '../command.js';
import { staffWrite } from './staffWrite.js';
import { accountIdOption, accountLabel, reasonOption } from './options.js';

/** Staff: call off a dated grant or purchase before it is due (once due, /void takes back what is left). */
export const unschedule = command({
  name: 'unschedule',
  description: 'Staff: cancel a dated grant or purchase before it lands, with a reason',
  staff: true,
  options: z.strictObject({
    account: accountIdOption,
    schedule: z.uuid({ message: 'must be a schedule id (from /scheduled)' }).describe('the schedule id, from /scheduled'),
    reason: reasonOption,
  }),
  run: async (ctx, caller, options) => {
    const timeZone = await reportTimeZone(ctx, options.account, caller.timeZone);
    const { actor, origin } = staffWrite(caller);
    const cancelled = await cancelScheduledWrite(ctx, { accountId: options.account, scheduledId: options.schedule, actor, origin, reason: options.reason });
    return { kind: 'scheduled', account: await accountLabel(ctx, options.account), accountId: options.account, change: 'cancelled', scheduled: [cancelled], timeZone };
  },
});
