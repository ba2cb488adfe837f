import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { parseInput } from '../input.js';
import { chatIdentity } from './provider.js';

const unlinkIdentityInput = z.strictObject(chatIdentity);

/** Ends a chat identity's link (the row stays, as history). Unlinking what is not linked does nothing. */
export async function unlinkIdentity(ctx: CoreContext, input: z.input<typeof unlinkIdentityInput>): Promise<{ unlinked: boolean }> {
  const { provider, externalId } = parseInput(unlinkIdentityInput, input);
  const rows = await ctx.db.sql.query(
    `UPDATE linked_identities SET unlinked_at = clock_timestamp()
     WHERE provider = $1::"IdentityProvider" AND external_id = $2 AND unlinked_at IS NULL RETURNING id`,
    [provider, externalId],
  );
  return { unlinked: rows.length > 0 };
}
