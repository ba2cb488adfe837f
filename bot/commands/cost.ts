import { z } from 'zod';
import { findAccount } from '../../core/accounts/findAccount.js';
import { quoteUsage } from '../../core/ledger/quoteUsage.js';
import { command } from '../command.js';
import { accountOption, linkedUser } from './options.js';

/** "Can I afford it?" before doing it: the quote the host product gets, spending nothing. */
export const cost = command({
  name: 'cost',
  description: 'What something would cost you now, and whether you can afford it (nothing is spent)',
  staff: false,
  options: z.strictObject({
    action: z.string().trim().min(1).max(50).describe('what you would do: chat, image, reroll, submission…'),
    quantity: z.union([z.number(), z.string()]).optional().describe('how many (default 1)'),
    clips: z.string().trim().max(2000).optional().describe("a submission's clip lengths in seconds, e.g. 8,8,30"),
    account: accountOption,
  }),
  run: async (ctx, caller, options) => {
    const user = linkedUser(caller);
    const account = await findAccount(ctx, { userExternalId: user, account: options.account });
    const charge = options.clips !== undefined
      ? { action: options.action, clipSeconds: options.clips.split(',').map((s) => Number(s.trim())) }
      : { action: options.action, quantity: Number(options.quantity ?? 1) };
    const quote = await quoteUsage(ctx, { accountId: account.accountId, charge, actor: { kind: 'USER', id: user } });
    return { kind: 'quote', account: account.label, quote };
  },
});
