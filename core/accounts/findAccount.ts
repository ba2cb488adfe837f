import { z } from 'zod';
import type { CoreContext } from '../context.js';
import type { MemberRole } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput } from '../input.js';

export const findAccountInput = z.strictObject({
  /** The person asking. */
  userExternalId: z.string().trim().min(1).max(200),
  /** Another account to read: an organisation's external id, or "organisation/client". Default: the user's own. */
  account: z.string().trim().min(1).max(401).optional(),
});

export interface FoundAccount {
  accountId: string;
  /** What to call it in a reply. */
  label: string;
  timeZone: string;
  /** The asker's role when the account is an organisation's or a client's. */
  role: MemberRole | null;
}

/**
 * The account a chat user means: their own, or an organisation's (or one of its clients') they
 * are a member of. Someone who is not a member gets ACCOUNT_NOT_FOUND, as if it did not exist.
 */
export async function findAccount(ctx: CoreContext, input: z.input<typeof findAccountInput>): Promise<FoundAccount> {
  const { userExternalId, account } = parseInput(findAccountInput, input);
  const [user] = await ctx.db.sql.query<{ id: string; time_zone: string; account_id: string | null; display_name: string | null }>(
    `SELECT u.id, u.time_zone, u.display_name, a.id AS account_id FROM users u LEFT JOIN accounts a ON a.user_id = u.id
     WHERE u.external_id = $1`,
    [userExternalId],
  );
  if (!user) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No user ${userExternalId}`);
  if (!account) {
    if (!user.account_id) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `${userExternalId} has no account yet`);
    return { accountId: user.account_id, label: user.display_name ?? userExternalId, timeZone: user.time_zone, role: null };
  }
  const [organisationExternalId, clientExternalId] = account.split('/', 2) as [string, string | undefined];
  const [found] = await ctx.db.sql.query<{ account_id: string; label: string; role: MemberRole }>(
    `SELECT a.id AS account_id, coalesce(c.name, o.name) AS label, m.role
     FROM organisations o
     JOIN members m ON m.organisation_id = o.id AND m.user_id = $2::uuid
     LEFT JOIN clients c ON c.organisation_id = o.id AND c.external_id = $3
     JOIN accounts a ON a.id = (CASE WHEN $3::text IS NULL THEN (SELECT id FROM accounts WHERE organisation_id = o.id)
                                     ELSE (SELECT id FROM accounts WHERE client_id = c.id) END)
     WHERE o.external_id = $1`,
    [organisationExternalId, user.id, clientExternalId ?? null],
  );
  if (!found) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${account} that you are a member of`);
  return { accountId: found.account_id, label: found.label, timeZone: user.time_zone, role: found.role };
}
