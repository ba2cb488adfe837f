import type { CoreContext } from '../context.js';
import type { TokenScope } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import type { Reach } from './accountReach.js';
import { hashSecret } from './createApiToken.js';

export interface TokenPrincipal extends Reach {
  tokenId: string;
  name: string;
  scopes: TokenScope[];
}

/** The token a bearer secret belongs to, if it exists and is not revoked. */
export async function authenticateToken(ctx: CoreContext, secret: string): Promise<TokenPrincipal> {
  // On every request: one indexed lookup on the raw driver.
  const [token] = await ctx.db.sql.query<{ id: string; name: string; scopes: TokenScope[]; organisation_id: string | null }>(
    `SELECT id, name, scopes::text[] AS scopes, organisation_id FROM api_tokens WHERE secret_hash = $1 AND revoked_at IS NULL`,
    [hashSecret(secret)],
  );
  if (!token) throw new CreditkeeperError('UNAUTHENTICATED', 'The token is unknown or revoked');
  return { tokenId: token.id, name: token.name, scopes: token.scopes, organisationId: token.organisation_id };
}
