import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { parseInput } from '../input.js';

export const listMemberAccountsInput = z.strictObject({
  userExternalId: z.string().trim().min(1).max(200),
  /** What the user has typed so far: the start of an organisation's or client's id or name. */
  search: z.string().trim().max(200).default(''),
  limit: z.number().int().min(1).max(25).default(25),
});

export interface MemberAccount {
  /** What findAccount takes: "organisation" or "organisation/client". */
  account: string;
  /** What to show: the organisation's name, or "client name (organisation name)". */
  label: string;
}

/**
 * The organisations, and their clients, whose balances a user may read as a member: what chat
 * offers while they type an `account` option. A user who is no member of anything gets none.
 */
export async function listMemberAccounts(ctx: CoreContext, input: z.input<typeof listMemberAccountsInput>): Promise<MemberAccount[]> {
  const { userExternalId, search, limit } = parseInput(listMemberAccountsInput, input);
  const prefix = `${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows = await ctx.db.sql.query<MemberAccount>(
    `SELECT * FROM (
       SELECT o.external_id AS account, o.name AS label FROM users u
       JOIN members m ON m.user_id = u.id JOIN organisations o ON o.id = m.organisation_id
       WHERE u.external_id = $1
       UNION ALL
       SELECT o.external_id || '/' || c.external_id, c.name || ' (' || o.name || ')' FROM users u
       JOIN members m ON m.user_id = u.id JOIN organisations o ON o.id = m.organisation_id JOIN clients c ON c.organisation_id = o.id
       WHERE u.external_id = $1
     ) choices
     WHERE lower(account) LIKE $2 OR lower(label) LIKE $2
     ORDER BY account LIMIT $3`,
    [userExternalId, prefix, limit],
  );
  return rows;
}
