import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { portalSessionMinutes } from './createPortalSession.js';
import { hashSecret } from './createApiToken.js';

export const openPortalSessionInput = z.strictObject({
  /** The link's secret, as minted. */
  token: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'is not a credits page link'),
});

/**
 * Exchanges a portal link, once and before it expires, for the session secret the browser keeps
 * in its cookie: a link seen later (a browser history, a log) opens nothing.
 */
export async function openPortalSession(ctx: CoreContext, input: z.input<typeof openPortalSessionInput>): Promise<{ secret: string; expiresAt: Date }> {
  const invalid = new CreditkeeperError('PORTAL_LINK_INVALID', 'This credits page link was used already or has expired: open the page again from the website');
  // Whatever is wrong with a link, the visitor is told the same thing.
  const parsed = openPortalSessionInput.safeParse(input);
  if (!parsed.success) throw invalid;
  const { token } = parsed.data;
  const secret = randomBytes(32).toString('base64url');
  const [row] = await ctx.db.sql.query<{ expires_at: Date }>(
    `UPDATE portal_sessions SET opened_at = now(), session_hash = $2, expires_at = now() + make_interval(mins => $3)
     WHERE link_hash = $1 AND opened_at IS NULL AND link_expires_at > now()
     RETURNING expires_at`,
    [hashSecret(token), hashSecret(secret), portalSessionMinutes],
  );
  if (!row) throw invalid;
  return { secret, expiresAt: new Date(row.expires_at) };
}
