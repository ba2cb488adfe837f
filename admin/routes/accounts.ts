import { z } from 'zod';
import { addMember, addMemberInput } from '../../core/accounts/addMember.js';
import { openAccount, openAccountInput } from '../../core/accounts/openAccount.js';
import { ensureOwnerInReach } from '../../core/access/ensureOwnerInReach.js';
import { fieldsOf, route, serviceWrites } from '../route.js';
import { Membership, OpenedAccount } from '../responses.js';

export const accountRoutes = [
  route({
    method: 'post',
    path: '/v1/accounts',
    tag: 'Accounts',
    summary: 'Open (or find) the account of a user, an organisation, or a client of an organisation',
    scopes: serviceWrites,
    body: openAccountInput,
    write: 'stored',
    response: OpenedAccount,
    status: 201,
    handle: async (ctx, { body, principal }) => {
      await ensureOwnerInReach(ctx, principal, body.owner);
      return openAccount(ctx, body);
    },
  }),
  route({
    method: 'post',
    path: '/v1/organisations/:organisationExternalId/members',
    tag: 'Accounts',
    summary: 'Add a user to an organisation with a role (owner, admin, operator, viewer), or change it; an organisation-limited token may only change its existing members',
    scopes: serviceWrites,
    params: z.strictObject({ organisationExternalId: z.string().min(1).max(200) }),
    body: fieldsOf(addMemberInput, ['organisationExternalId', 'actor', 'origin']),
    write: 'stored',
    response: Membership,
    handle: (ctx, { params, body, principal, actor, origin }) =>
      addMember(ctx, { ...body, organisationExternalId: params.organisationExternalId, actor, origin }, principal),
  }),
];
