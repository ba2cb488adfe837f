import { z } from 'zod';
import { voidGrant as voidGrantUseCase } from '../../core/ledger/voidGrant.js';
import { command } from '../command.js';
import { staffWrite } from './staffWrite.js';
import { accountIdOption, reasonOption } from './options.js';

export const voidGrant = command({
  name: 'void',
  description: 'Staff: void one grant or purchase (what is left of it), with a reason',
  staff: true,
  options: z.strictObject({
    account: accountIdOption,
    entry: z.uuid({ message: 'must be an entry id (from /activity)' }).describe('the grant or purchase entry id'),
    reason: reasonOption,
  }),
  run: async (ctx, caller, options) => ({
    kind: 'posted',
    what: 'Void',
    result: await voidGrantUseCase(ctx, { accountId: options.account, ...staffWrite(caller), entryId: options.entry, reason: options.reason }),
  }),
});
