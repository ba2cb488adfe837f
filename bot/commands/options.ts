import { z } from 'zod';
import { getAccountOwner } from '../../core/accounts/accountOwner.js';
import type { CoreContext } from '../../core/context.js';
import { CreditkeeperError } from '../../core/errors.js';
import type { Caller } from '../command.js';

/** Option pieces the commands share. Options arrive as text (console, Slack) or typed (Discord). */
export const accountOption = z.string().trim().min(1).max(401).optional().describe('an organisation (or organisation/client) you belong to');
export const accountIdOption = z.uuid({ message: 'must be an account id (from /lookup)' }).describe('the account id, from /lookup');
export const reasonOption = z.string().max(500).describe('why: the user sees it on their log');
export const creditsOption = z.union([z.number(), z.string()]).describe('whole credits');
/** A date and time as typed (2027-01-03 09:00), read in reportTimeZone's zone (the caller's, else the account owner's); parsed by parseLocalDateTime. */
export const dateTimeOption = z.string().trim().min(1).max(40);

/** What a staff command calls an account in its reply: its owner's name, else their external id. */
export async function accountLabel(ctx: CoreContext, accountId: string): Promise<string> {
  const { owner } = await getAccountOwner(ctx, accountId);
  return owner.name ?? owner.externalId;
}

/** The caller's Creditkeeper user, for commands about their own credits; NOT_LINKED until they link. */
export function linkedUser(caller: Caller): string {
  if (caller.userExternalId === null) throw new CreditkeeperError('NOT_LINKED', 'This chat account is not linked to a user');
  return caller.userExternalId;
}
