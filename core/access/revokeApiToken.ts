import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { actor, origin, parseInput, uuid } from '../input.js';
import { recordAudit } from '../audit/recordAudit.js';
import { forgetToken } from './authenticateToken.js';

export const revokeApiTokenInput = z.strictObject({ tokenId: uuid, actor, origin: origin.optional() });

/** Revokes a token: refused at once by this process, by others within tokenTrustMs (authenticateToken.ts). */
export async function revokeApiToken(ctx: CoreContext, input: z.input<typeof revokeApiTokenInput>): Promise<void> {
  const request = parseInput(revokeApiTokenInput, input);
  const { count } = await ctx.db.prisma.apiToken.updateMany({
    where: { id: request.tokenId, revokedAt: null },
    data: { revokedAt: new Date() },
  });
  if (count === 0) throw new CreditkeeperError('TOKEN_NOT_FOUND', `No active token ${request.tokenId}`);
  forgetToken(ctx.db, request.tokenId);
  await recordAudit(ctx, {
    actor: request.actor,
    action: 'token.revoke',
    outcome: 'done',
    ...(request.origin && { origin: request.origin }),
    details: { tokenId: request.tokenId },
  });
}
