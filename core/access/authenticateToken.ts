import type { CoreContext } from '../context.js';
import type { TokenScope } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { hashSecret } from './createApiToken.js';

export interface TokenPrincipal {
  tokenId: string;
  name: string;
  scopes: TokenScope[];
  /** Set when the token may only reach one organisation's accounts. */
  organisationId: string | null;
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

/**
 * Whether an account is within a token's reach: every account for an unrestricted token; for an
 * organisation's token, the organisation's own account, its clients' accounts and its members'.
 * Out of reach looks exactly like not found, so a token cannot probe other organisations.
 */
export async function ensureAccountInReach(ctx: CoreContext, principal: TokenPrincipal, accountId: string): Promise<void> {
  if (!principal.organisationId) return;
  const [row] = await ctx.db.sql.query<{ in_reach: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM accounts a
       LEFT JOIN clients c ON c.id = a.client_id
       LEFT JOIN members m ON m.user_id = a.user_id AND m.organisation_id = $2::uuid
       WHERE a.id = $1::uuid AND (a.organisation_id = $2::uuid OR c.organisation_id = $2::uuid OR m.user_id IS NOT NULL)
     ) AS in_reach`,
    [accountId, principal.organisationId],
  );
  if (!row!.in_reach) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${accountId}`);
}
