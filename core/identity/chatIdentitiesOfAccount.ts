import type { CoreContext } from '../context.js';
import type { ChatIdentity } from './provider.js';

/** Where to reach an account's owner in chat: the live links of the user who owns it (none for organisations). */
export async function chatIdentitiesOfAccount(ctx: CoreContext, accountId: string): Promise<ChatIdentity[]> {
  const rows = await ctx.db.sql.query<{ provider: ChatIdentity['provider']; external_id: string }>(
    `SELECT l.provider, l.external_id FROM accounts a JOIN linked_identities l ON l.user_id = a.user_id AND l.unlinked_at IS NULL
     WHERE a.id = $1::uuid ORDER BY l.provider`,
    [accountId],
  );
  return rows.map((r) => ({ provider: r.provider, externalId: r.external_id }));
}
