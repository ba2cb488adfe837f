import { ensureAccountInReach } from '../../core/access/accountReach.js';
import { createPortalSession, createPortalSessionInput } from '../../core/access/createPortalSession.js';
import { fieldsOf, route, serviceWrites } from '../route.js';
import { PortalLink } from '../responses.js';

/** The users' own credits page: the host mints a one-time link for its signed-in user. */
export const portalRoutes = [
  route({
    method: 'post',
    path: '/v1/portal-sessions',
    tag: 'Portal',
    summary:
      "A one-time link (15 minutes) to the credits page for one of the host's users and one account they may see; redirect the user's browser to it, or frame it from embedOrigin",
    scopes: serviceWrites,
    body: fieldsOf(createPortalSessionInput, ['createdBy', 'origin']),
    // Not a stored write: a retry mints another link, and the secret is never kept in clear.
    write: false,
    response: PortalLink,
    status: 201,
    handle: async (ctx, { body, principal, origin }) => {
      await ensureAccountInReach(ctx, principal, body.accountId);
      return createPortalSession(ctx, { ...body, createdBy: principal.name, origin });
    },
  }),
];
