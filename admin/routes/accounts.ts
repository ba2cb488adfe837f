import { z } from 'zod';
import { addMember, addMemberInput } from '../../core/accounts/addMember.js';
import { openAccount, openAccountInput } from '../../core/accounts/openAccount.js';
import type { CoreContext } from '../../core/context.js';
import { CreditkeeperError } from '../../core/errors.js';
import type { TokenPrincipal } from '../../core/access/authenticateToken.js';
import { fieldsOf, route, serviceWrites } from '../route.js';

/** An organisation's token opens accounts only for its own organisation and clients. */
async function ensureOrganisationInReach(ctx: CoreContext, principal: TokenPrincipal, organisationExternalId: string) {
  if (!principal.organisationId) return;
  const organisation = await ctx.db.prisma.organisation.findUnique({ where: { id: principal.organisationId } });
  if (organisation?.externalId !== organisationExternalId) {
    throw new CreditkeeperError('FORBIDDEN', 'This token is limited to another organisation');
  }
}

export const accountRoutes = [
  route({
    method: 'post',
    path: '/v1/accounts',
    tag: 'Accounts',
    summary: 'Open (or find) the account of a user, an organisation, or a client of an organisation',
    scopes: serviceWrites,
    body: openAccountInput,
    write: 'stored',
    status: 201,
    handle: async (ctx, { body, principal }) => {
      const owner = body.owner;
      if (principal.organisationId) {
        if (owner.kind === 'USER') throw new CreditkeeperError('FORBIDDEN', 'This token may only open its organisation’s accounts');
        await ensureOrganisationInReach(ctx, principal, owner.kind === 'CLIENT' ? owner.organisationExternalId : owner.externalId);
      }
      return openAccount(ctx, body);
    },
  }),
  route({
    method: 'post',
    path: '/v1/organisations/:organisationExternalId/members',
    tag: 'Accounts',
    summary: 'Add a user to an organisation with a role (owner, admin, operator, viewer), or change it',
    scopes: serviceWrites,
    params: z.strictObject({ organisationExternalId: z.string().min(1).max(200) }),
    body: fieldsOf(addMemberInput, ['organisationExternalId']),
    write: 'stored',
    handle: async (ctx, { params, body, principal }) => {
      await ensureOrganisationInReach(ctx, principal, params.organisationExternalId);
      return addMember(ctx, { ...body, organisationExternalId: params.organisationExternalId });
    },
  }),
];
