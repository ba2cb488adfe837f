import { z } from 'zod';
import { listScheduledWrites } from '../../core/ledger/listScheduledWrites.js';
import { reportTimeZone } from '../../core/reports/timeZone.js';
import { command } from '../command.js';
import { accountIdOption, accountLabel } from './options.js';

/** Staff: the dated grants and purchases an account has still to come. */
export const scheduled = command({
  name: 'scheduled',
  description: 'Staff: the dated grants and purchases still to land on an account, soonest first',
  staff: true,
  options: z.strictObject({ account: accountIdOption }),
  run: async (ctx, caller, options) => {
    const timeZone = await reportTimeZone(ctx, options.account, caller.timeZone);
    const { scheduled: pending } = await listScheduledWrites(ctx, { accountId: options.account });
    return { kind: 'scheduled', account: await accountLabel(ctx, options.account), accountId: options.account, change: null, scheduled: pending, timeZone };
  },
});
