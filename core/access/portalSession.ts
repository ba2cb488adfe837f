import type { CoreContext } from '../context.js';
import type { MemberRole } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { hashSecret } from './createApiToken.js';
import { rolesAllowed } from './memberPermission.js';

/**
 * A /portal session: one account seen by one host user. Their standing is re-read on every page, so a removed
 * or demoted member loses the page (or its Purchase button) at once.
 */
export interface PortalSession {
  accountId: string;
  /** What the page calls the account: the user's name, the client's or the organisation's. */
  accountName: string;
  viewer: ViewerStanding & { userExternalId: string };
  storeUrl: string | null;
  /** The host page's origin that may frame the portal, if the host embeds it. */
  embedOrigin: string | null;
  locale: string;
  timeZone: string;
  /** 'account' until the viewer's browser reports its zone; a zone the host chose ('host') stays. */
  timeZoneSource: 'host' | 'account' | 'browser';
  pageSize: number;
  expiresAt: Date;
}

export interface ViewerStanding {
  /** null: the account is the viewer's own. */
  role: MemberRole | null;
  /** Owners and admins buy for an organisation; a user always may for their own account. */
  mayPurchase: boolean;
  timeZone: string;
}

const expired = () => new CreditkeeperError('PORTAL_LINK_INVALID', 'This credits page has expired: open it again from the website');

/** The session a portal cookie's secret belongs to, while it lasts and while its viewer may see the account. */
export async function getPortalSession(ctx: CoreContext, secret: string): Promise<PortalSession> {
  const [row] = await ctx.db.sql.query<{
    account_id: string;
    user_external_id: string;
    store_url: string | null;
    embed_origin: string | null;
    locale: string;
    time_zone: string;
    time_zone_source: PortalSession['timeZoneSource'];
    page_size: number;
    expires_at: Date;
  }>(
    `SELECT account_id, user_external_id, store_url, embed_origin, locale, time_zone, time_zone_source, page_size, expires_at
     FROM portal_sessions WHERE session_hash = $1 AND expires_at > now()`,
    [hashSecret(secret)],
  );
  if (!row) throw expired();
  const standing = await viewerStanding(ctx, row.account_id, row.user_external_id).catch(() => undefined);
  if (!standing) throw expired();
  return {
    accountId: row.account_id,
    accountName: standing.accountName,
    viewer: { userExternalId: row.user_external_id, role: standing.role, mayPurchase: standing.mayPurchase, timeZone: standing.timeZone },
    storeUrl: row.store_url,
    embedOrigin: row.embed_origin,
    locale: row.locale,
    timeZone: row.time_zone,
    timeZoneSource: row.time_zone_source,
    pageSize: row.page_size,
    expiresAt: new Date(row.expires_at),
  };
}

/**
 * A user's standing on an account: their own, or a member of the organisation it belongs to
 * (its own or a client's account). Anyone else may not see it (ROLE_FORBIDDEN).
 */
export async function viewerStanding(
  ctx: CoreContext,
  accountId: string,
  userExternalId: string,
): Promise<ViewerStanding & { accountName: string }> {
  const [row] = await ctx.db.sql.query<{ own: boolean; role: MemberRole | null; time_zone: string | null; account_name: string }>(
    `SELECT u.id IS NOT NULL AND a.user_id = u.id AS own, m.role, u.time_zone,
       coalesce(owner.display_name, owner.external_id, c.name, o.name) AS account_name
     FROM accounts a
     LEFT JOIN clients c ON c.id = a.client_id
     LEFT JOIN organisations o ON o.id = coalesce(a.organisation_id, c.organisation_id)
     LEFT JOIN users owner ON owner.id = a.user_id
     LEFT JOIN users u ON u.external_id = $2
     LEFT JOIN members m ON m.user_id = u.id AND m.organisation_id = o.id
     WHERE a.id = $1::uuid`,
    [accountId, userExternalId],
  );
  if (!row) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${accountId}`);
  if (!row.own && !row.role) {
    throw new CreditkeeperError('ROLE_FORBIDDEN', `${userExternalId} is not a member of the organisation this account belongs to`, { role: null, action: 'view' });
  }
  const purchaseRoles: readonly MemberRole[] = rolesAllowed.purchase;
  return {
    role: row.own ? null : row.role,
    mayPurchase: row.own || purchaseRoles.includes(row.role!),
    timeZone: row.time_zone ?? 'UTC',
    accountName: row.account_name,
  };
}
