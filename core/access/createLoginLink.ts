import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { parseInput } from '../input.js';
import { recordAudit } from '../audit/recordAudit.js';
import { organisationIdOf } from './accountReach.js';
import { hashSecret } from './createApiToken.js';

export const createLoginLinkInput = z.strictObject({
  /** Who signs in with it: their actions are audited under this name. */
  staffId: z.string().trim().min(1).max(100),
  ttlMinutes: z.number().int().min(1).max(24 * 60).default(15),
  /** Limit the session it starts to one organisation's accounts (by its external id). */
  organisationExternalId: z.string().min(1).max(200).optional(),
});

/** A one-time sign-in secret for the admin page (the CLI turns it into a link). */
export async function createLoginLink(
  ctx: CoreContext,
  input: z.input<typeof createLoginLinkInput>,
): Promise<{ secret: string; expiresAt: Date }> {
  const { staffId, ttlMinutes, organisationExternalId } = parseInput(createLoginLinkInput, input);
  const organisationId = organisationExternalId ? await organisationIdOf(ctx, organisationExternalId) : null;
  const secret = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + ttlMinutes * 60_000);
  await ctx.db.prisma.loginLink.create({ data: { secretHash: hashSecret(secret), staffId, expiresAt, organisationId } });
  await recordAudit(ctx, { actor: { kind: 'STAFF', id: staffId }, action: 'admin.login-link', outcome: 'done', origin: { transport: 'cli' }, ...(organisationId && { details: { organisationId } }) });
  return { secret, expiresAt };
}
