import { createHash, randomInt } from 'node:crypto';
import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput } from '../input.js';
import { chatIdentity } from './provider.js';

export const createLinkCodeInput = z.strictObject({
  /** The host product's signed-in user. */
  userExternalId: z.string().trim().min(1).max(200),
  provider: chatIdentity.provider,
});

/** How long a code works: long enough to switch to Discord and type it, short enough to be worthless when leaked. */
export const linkCodeLifetimeMs = 15 * 60_000;
// No 0/O, 1/I/L: the user types it.
const alphabet = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

/**
 * A one-time code the host product shows its signed-in user, who runs `/link code:…` in chat.
 * Only the code's hash is stored; it works once, for 15 minutes.
 */
export async function createLinkCode(ctx: CoreContext, input: z.input<typeof createLinkCodeInput>): Promise<{ code: string; expiresAt: Date }> {
  const { userExternalId, provider } = parseInput(createLinkCodeInput, input);
  const code = Array.from({ length: 8 }, (_, i) => (i === 4 ? '-' : '') + alphabet[randomInt(alphabet.length)]).join('');
  const [row] = await ctx.db.sql.query<{ expires_at: Date }>(
    `INSERT INTO link_codes (code_hash, user_id, provider, expires_at)
     SELECT $1, u.id, $2::"IdentityProvider", clock_timestamp() + $3 * interval '1 millisecond' FROM users u WHERE u.external_id = $4
     RETURNING expires_at`,
    [hashLinkCode(code), provider, linkCodeLifetimeMs, userExternalId],
  );
  if (!row) throw new CreditkeeperError('OWNER_NOT_FOUND', `No user ${userExternalId}`);
  return { code, expiresAt: new Date(row.expires_at) };
}

/** Codes are compared as typed, give or take case, spaces and the dash. */
export function hashLinkCode(code: string): string {
  const normalised = code.toUpperCase().replace(/[\s-]/g, '');
  return createHash('sha256').update(normalised).digest('hex');
}
