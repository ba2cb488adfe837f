import { z } from 'zod';
import type { CoreContext } from '../context.js';
import type { MemberRole } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput } from '../input.js';

export const addMemberInput = z.strictObject({
  organisationExternalId: z.string().trim().min(1).max(200),
  userExternalId: z.string().trim().min(1).max(200),
  /** Seed 004: operators see balance and usage; only admins (and owners) buy or adjust. */
  role: z.enum(['OWNER', 'ADMIN', 'OPERATOR', 'VIEWER']),
});

/** Adds a user to an organisation with a role, or changes the role they have. */
export async function addMember(
  ctx: CoreContext,
  input: z.input<typeof addMemberInput>,
): Promise<{ organisationId: string; userId: string; role: MemberRole }> {
  const { organisationExternalId, userExternalId, role } = parseInput(addMemberInput, input);
  const [organisation, user] = await Promise.all([
    ctx.db.prisma.organisation.findUnique({ where: { externalId: organisationExternalId } }),
    ctx.db.prisma.user.findUnique({ where: { externalId: userExternalId } }),
  ]);
  if (!organisation) throw new CreditkeeperError('OWNER_NOT_FOUND', `No organisation ${organisationExternalId}`);
  if (!user) throw new CreditkeeperError('OWNER_NOT_FOUND', `No user ${userExternalId}`);
  const member = await ctx.db.prisma.member.upsert({
    where: { organisationId_userId: { organisationId: organisation.id, userId: user.id } },
    create: { organisationId: organisation.id, userId: user.id, role },
    update: { role },
  });
  return { organisationId: member.organisationId, userId: member.userId, role: member.role };
}
