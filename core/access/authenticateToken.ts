import type { CoreContext } from '../context.js';
import type { Database } from '../db/database.js';
import type { TokenScope } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import type { Reach } from './accountReach.js';
import { hashSecret } from './createApiToken.js';

export interface TokenPrincipal extends Reach {
  tokenId: string;
  name: string;
  scopes: TokenScope[];
}

/**
 * How long a token found is believed without asking the database again. A revocation made in this
 * process (revokeApiToken) counts at once; one made by another (the CLI's `token revoke`) within this.
 */
export const tokenTrustMs = 1_000;
/** Tokens remembered per database: enough for every caller of a busy server, small enough to never matter. */
const maxRemembered = 10_000;

interface Remembered {
  principal: TokenPrincipal;
  until: number;
}

/**
 * Per database, keyed by the secret's SHA-256 (never the secret), so another secret can only miss;
 * `revocations` makes a lookup that started before a revocation not be remembered after it.
 */
const memory = new WeakMap<Database, { byHash: Map<string, Remembered>; revocations: number }>();

function memoryOf(db: Database) {
  let found = memory.get(db);
  if (!found) memory.set(db, (found = { byHash: new Map(), revocations: 0 }));
  return found;
}

/**
 * The token a bearer secret belongs to, if it exists and is not revoked. `fresh` asks the database
 * whatever was remembered: signing in turns a token into a session that outlives any trust window.
 */
export async function authenticateToken(ctx: CoreContext, secret: string, { fresh = false } = {}): Promise<TokenPrincipal> {
  const hash = hashSecret(secret);
  const remembered = memoryOf(ctx.db);
  const known = remembered.byHash.get(hash);
  if (!fresh && known && known.until > Date.now()) return copyOf(known.principal);
  remembered.byHash.delete(hash);
  const revocations = remembered.revocations;
  // Trusted from when it was asked, not answered: a revocation after the read counts within tokenTrustMs, not a round trip more.
  const asked = Date.now();
  // A prepared statement: planned once per connection, not on every request that misses.
  const [token] = await ctx.db.sql.query<{ id: string; name: string; scopes: TokenScope[]; organisation_id: string | null }>(
    `SELECT id, name, scopes::text[] AS scopes, organisation_id FROM api_tokens WHERE secret_hash = $1 AND revoked_at IS NULL`,
    [hash],
    'authenticate-token',
  );
  // Unknown secrets are not remembered: a token made a moment ago by another process works at once.
  if (!token) throw new CreditkeeperError('UNAUTHENTICATED', 'The token is unknown or revoked');
  const principal = { tokenId: token.id, name: token.name, scopes: token.scopes, organisationId: token.organisation_id };
  if (remembered.revocations === revocations) {
    remembered.byHash.set(hash, { principal: copyOf(principal), until: asked + tokenTrustMs });
    if (remembered.byHash.size > maxRemembered) remembered.byHash.delete(remembered.byHash.keys().next().value!);
  }
  return principal;
}

/** Each caller its own copy: one that changes what it was given changes nothing remembered. */
function copyOf(principal: TokenPrincipal): TokenPrincipal {
  return { ...principal, scopes: [...principal.scopes] };
}

/** Forgets a revoked token in this process at once (revokeApiToken calls it). */
export function forgetToken(db: Database, tokenId: string): void {
  const remembered = memoryOf(db);
  remembered.revocations++;
  for (const [hash, { principal }] of remembered.byHash) if (principal.tokenId === tokenId) remembered.byHash.delete(hash);
}
