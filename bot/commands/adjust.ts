import { z } from 'zod';
import { adjust as adjustBalance } from '../../core/ledger/adjust.js';
import { command } from '../command.js';
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
      idempotencyKey: caller.interactionId,
      actor: { kind: 'STAFF', id: caller.userExternalId },
      origin: { transport: caller.transport, requestId: caller.interactionId },
      amount: options.amount,
      reason: options.reason,
    }),
  }),
});
