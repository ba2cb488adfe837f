import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { CoreContext } from '../context.js';
import { CreditkeeperError, isCreditkeeperError } from '../errors.js';
import type { Origin } from '../input.js';
import { recordAudit } from '../audit/recordAudit.js';
import type { Reach } from './accountReach.js';
import { authenticateToken } from './authenticateToken.js';
import { hashSecret } from './createApiToken.js';

/**
 * Admin page sessions: started with an ADMIN token or a one-time login link, held in an
 * httpOnly cookie (its secret) with a CSRF token bound to the session for every form.
 */
const sessionHours = 8;

/** An organisation-limited token or link starts a session limited the same way. */
export interface AdminSession extends Reach {
  staffId: string;
  csrfToken: string;
}

export async function startAdminSession(
  ctx: CoreContext,
  proof: { token: string } | { loginLink: string },
  origin: Origin,
): Promise<AdminSession & { secret: string; expiresAt: Date }> {
  let staffId: string;
  let organisationId: string | null;
  if ('token' in proof) {
    // Only an unknown token is a refused sign-in; a database that cannot answer is an outage.
    const principal = await authenticateToken(ctx, proof.token, { fresh: true }).catch((error: unknown) => {
      if (isCreditkeeperError(error, 'UNAUTHENTICATED')) return undefined;
      throw error;
    });
    if (!principal?.scopes.includes('ADMIN')) {
      await recordAudit(ctx, { actor: { kind: 'STAFF' }, action: 'admin.sign-in', outcome: 'denied: not an admin token', origin });
      throw new CreditkeeperError('UNAUTHENTICATED', 'That is not an admin token');
    }
    staffId = principal.name;
    organisationId = principal.organisationId;
  } else {
    const [link] = await ctx.db.sql.query<{ staff_id: string; organisation_id: string | null }>(
      `UPDATE login_links SET used_at = now() WHERE secret_hash = $1 AND used_at IS NULL AND expires_at > now()
       RETURNING staff_id, organisation_id`,
      [hashSecret(proof.loginLink)],
    );
    if (!link) {
      await recordAudit(ctx, { actor: { kind: 'STAFF' }, action: 'admin.sign-in', outcome: 'denied: link used or expired', origin });
      throw new CreditkeeperError('UNAUTHENTICATED', 'This sign-in link was used already or has expired');
    }
    staffId = link.staff_id;
    organisationId = link.organisation_id;
  }
  const secret = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  const expiresAt = new Date(Date.now() + sessionHours * 3_600_000);
  await ctx.db.prisma.adminSession.create({ data: { idHash: hashSecret(secret), staffId, csrfToken, expiresAt, organisationId } });
  await recordAudit(ctx, { actor: { kind: 'STAFF', id: staffId }, action: 'admin.sign-in', outcome: 'done', origin });
  return { secret, staffId, csrfToken, expiresAt, organisationId };
}

export async function getAdminSession(ctx: CoreContext, secret: string): Promise<AdminSession> {
  const session = await ctx.db.prisma.adminSession.findUnique({ where: { idHash: hashSecret(secret) } });
  if (!session || session.expiresAt.getTime() <= Date.now()) {
    throw new CreditkeeperError('UNAUTHENTICATED', 'Sign in again');
  }
  return { staffId: session.staffId, csrfToken: session.csrfToken, organisationId: session.organisationId };
}

export async function endAdminSession(ctx: CoreContext, secret: string): Promise<void> {
  await ctx.db.prisma.adminSession.deleteMany({ where: { idHash: hashSecret(secret) } });
}

/** Constant-time comparison of a submitted CSRF token with the session's. */
export function csrfMatches(session: AdminSession, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  const a = Buffer.from(session.csrfToken);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}
