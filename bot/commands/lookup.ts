import { z } from 'zod';
import { unrestricted } from '../../core/access/accountReach.js';
import { searchAccounts } from '../../core/accounts/searchAccounts.js';
import { readFromReplica } from '../../core/db/readReplica.js';
import { command } from '../command.js';

export const lookup = command({
  name: 'lookup',
  description: 'Staff: find someone’s account (by account id, external id or name)',
  staff: true,
  options: z.strictObject({ search: z.string().trim().min(1).max(200).describe('who to find') }),
  run: async (ctx, _caller, options) => ({ kind: 'lookup', search: options.search, accounts: await readFromReplica(ctx, undefined, (reads) => searchAccounts(reads, { search: options.search, limit: 10 }, unrestricted)) }),
});
