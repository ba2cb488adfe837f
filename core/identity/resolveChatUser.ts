import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { parseInput } from '../input.js';
import { chatIdentity } from './provider.js';

const resolveChatUserInput = z.strictObject(chatIdentity);

/** The Creditkeeper user a chat identity is linked to now, or null when it is not linked. */
export async function resolveChatUser(ctx: CoreContext, input: z.input<typeof resolveChatUserInput>): Promise<{ userExternalId: string } | null> {
  const { provider, externalId } = parseInput(resolveChatUserInput, input);
  const [row] = await ctx.db.sql.query<{ external_id: string }>(
    `SELECT u.external_id FROM linked_identities l JOIN users u ON u.id = l.user_id
     WHERE l.provider = $1::"IdentityProvider" AND l.external_id = $2 AND l.unlinked_at IS NULL`,
    [provider, externalId],
  );
  return row ? { userExternalId: row.external_id } : null;
}
