import type { CoreContext } from '../context.js';
import { createApiToken } from './createApiToken.js';

/**
 * On a fresh embedded database nobody can create a token through the API, and the CLI cannot
 * open the database while the server holds it: so the first start makes one token with every
 * scope and returns its secret to be shown once. Returns null when any active token exists.
 */
export async function ensureBootstrapToken(ctx: CoreContext): Promise<{ id: string; secret: string } | null> {
  const active = await ctx.db.prisma.apiToken.count({ where: { revokedAt: null } });
  if (active > 0) return null;
  const token = await createApiToken(ctx, {
    name: 'bootstrap',
    scopes: ['SERVICE', 'ADMIN', 'READ'],
    actor: { kind: 'SYSTEM', id: 'first-start' },
    origin: { transport: 'cli' },
  });
  return { id: token.id, secret: token.secret };
}
