import { z } from 'zod';
import { ensureOrganisationInReach, type Reach, unrestricted } from '../access/accountReach.js';
import { ensureRole } from '../access/memberPermission.js';
import type { CoreContext } from '../context.js';
import type { MemberRole } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { actor, origin, parseInput } from '../input.js';

export const addMemberInput = z.strictObject({
  organisationExternalId: z.string().trim().min(1).max(200),
  userExternalId: z.string().trim().min(1).max(200),
  /** Operators see balance and usage and run usage; only admins (and owners) buy or adjust. */
  role: z.enum(['OWNER', 'ADMIN', 'OPERATOR', 'VIEWER']),
  /** Who makes the change: a member (USER) needs to be an admin or owner, and an owner to touch owners. */
  actor: actor.default({ kind: 'SERVICE' }),
  origin: origin.optional(),
});

/**
 * Adds a member or changes their role. Users belong to the host, not an organisation, so an organisation-limited
 * credential may change its members' roles but enrolling someone new takes an unrestricted SERVICE token.
 */
export async function addMember(
  ctx: CoreContext,
  input: z.input<typeof addMemberInput>,
  reach: Reach = unrestricted,
): Promise<{ organisationId: string; userId: string; role: MemberRole }> {
  const request = parseInput(addMemberInput, input);
  const { organisationExternalId, userExternalId, role } = request;
  await ensureOrganisationInReach(ctx, reach, organisationExternalId);
  const [found] = await ctx.db.sql.query<{ organisation_id: string | null; user_id: string | null; current: MemberRole | null; acting: MemberRole | null }>(
    `SELECT o.id AS organisation_id, u.id AS user_id, m.role AS current, am.role AS acting
     FROM (SELECT 1) one
     LEFT JOIN organisations o ON o.external_id = $1
     LEFT JOIN users u ON u.external_id = $2
     LEFT JOIN members m ON m.organisation_id = o.id AND m.user_id = u.id
     LEFT JOIN users au ON au.external_id = $3
     LEFT JOIN members am ON am.organisation_id = o.id AND am.user_id = au.id`,
    [organisationExternalId, userExternalId, request.actor.kind === 'USER' ? (request.actor.id ?? '') : null],
  );
  if (!found?.organisation_id) throw new CreditkeeperError('OWNER_NOT_FOUND', `No organisation ${organisationExternalId}`);
  if (!found.user_id) throw new CreditkeeperError('OWNER_NOT_FOUND', `No user ${userExternalId}`);
  if (reach.organisationId && !found.current) {
    throw new CreditkeeperError('FORBIDDEN', `${userExternalId} is not a member yet: adding a new member takes an unrestricted SERVICE token`);
  }
  if (request.actor.kind === 'USER') {
    const touchesOwner = role === 'OWNER' || found.current === 'OWNER';
    await ensureRole(ctx, { actor: request.actor, role: found.acting, origin: request.origin }, touchesOwner ? 'owners' : 'members');
  }
  const member = await ctx.db.prisma.member.upsert({
    where: { organisationId_userId: { organisationId: found.organisation_id, userId: found.user_id } },
    create: { organisationId: found.organisation_id, userId: found.user_id, role },
    update: { role },
  });
  return { organisationId: member.organisationId, userId: member.userId, role: member.role };
}
