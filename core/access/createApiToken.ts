import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { CoreContext } from '../context.js';
import type { TokenScope } from '../db/generated/enums.js';
import { actor, origin, parseInput } from '../input.js';
import { recordAudit } from '../audit/recordAudit.js';
import { organisationIdOf } from './accountReach.js';

export const createApiTokenInput = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(z.enum(['SERVICE', 'ADMIN', 'READ'])).min(1).max(3),
  /** Limit the token to one organisation's accounts (by its external id). */
  organisationExternalId: z.string().min(1).max(200).optional(),
  actor,
  origin: origin.optional(),
});

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Creates a bearer token; the secret is returned this once and only its hash is kept. */
export async function createApiToken(
  ctx: CoreContext,
  input: z.input<typeof createApiTokenInput>,
): Promise<{ id: string; name: string; scopes: TokenScope[]; secret: string }> {
  const request = parseInput(createApiTokenInput, input);
  const organisationId = request.organisationExternalId ? await organisationIdOf(ctx, request.organisationExternalId) : null;
  const secret = `ck_${randomBytes(32).toString('base64url')}`;
  const scopes = [...new Set(request.scopes)];
  const token = await ctx.db.prisma.apiToken.create({
    data: { name: request.name, secretHash: hashSecret(secret), scopes, organisationId },
  });
  await recordAudit(ctx, {
    actor: request.actor,
    action: 'token.create',
    outcome: 'done',
    ...(request.origin && { origin: request.origin }),
    details: { tokenId: token.id, name: token.name, scopes, organisationId },
  });
  return { id: token.id, name: token.name, scopes, secret };
}
