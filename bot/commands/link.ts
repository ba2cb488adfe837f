import { z } from 'zod';
import { CreditkeeperError } from '../../core/errors.js';
import { claimLinkCode } from '../../core/identity/claimLinkCode.js';
import { command } from '../command.js';

export const link = command({
  name: 'link',
  description: 'Link this chat account with the code from the website (Discord pays a one-time reward)',
  staff: false,
  options: z.strictObject({ code: z.string().trim().min(4).max(20).describe('the code the website showed you') }),
  run: async (ctx, caller, options) => {
    if (caller.transport === 'console') {
      throw new CreditkeeperError('VALIDATION_FAILED', 'the console is already signed in as a user; run /link in Discord or Slack');
    }
    const provider = caller.transport === 'discord' ? 'DISCORD' : 'SLACK';
    const linked = await claimLinkCode(ctx, { provider, externalId: caller.chatUserId, code: options.code });
    return { kind: 'linked', provider, ...linked };
  },
});
