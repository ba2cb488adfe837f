import type { CoreContext } from '../context.js';
import { createApiToken } from './createApiToken.js';

/**
 * The first start makes one all-scope token (secret shown once): on a fresh embedded database nothing else can,
 * as the CLI cannot open the database the server holds. Null when any active token exists.
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
