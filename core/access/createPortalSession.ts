import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { recordAudit } from '../audit/recordAudit.js';
import type { CoreContext } from '../context.js';
import { origin, parseInput, timeZone, uuid } from '../input.js';
import { hashSecret } from './createApiToken.js';
import { viewerStanding } from './portalSession.js';

const webUrl = z.url({ protocol: /^https?$/, message: 'must be an http or https URL' }).max(2000);

export const createPortalSessionInput = z.strictObject({
  accountId: uuid,
  /** The host's user who opens the page: their own account, or one of their organisation's. */
  userExternalId: z.string().trim().min(1).max(200),
  /** Where "Purchase credits" leads; shown only to those who may buy. */
  storeUrl: webUrl.optional(),
  /** Dates and numbers as the host's language writes them (a BCP 47 tag); default English. */
  locale: z
    .string()
    .max(35)
    .refine((tag) => {
      try {
        return Intl.getCanonicalLocales(tag).length === 1;
      } catch {
        return false;
      }
    }, 'is not a language tag like en-GB or de')
    .transform((tag) => Intl.getCanonicalLocales(tag)[0]!)
    .default('en'),
  /** The viewer's zone; by default the browser's, or until it reports one, the user's as Creditkeeper knows it. */
  timeZone: timeZone.optional(),
  /** The host page that frames the portal in an iframe (its origin); otherwise no one may frame it. */
  embedOrigin: webUrl.transform((url) => new URL(url).origin).optional(),
  /** Rows a page of the activity table shows: 25 as an agency's per-client page has, or fewer in a small dialog. */
  pageSize: z.number().int().min(5).max(100).default(25),
  ttlMinutes: z.number().int().min(1).max(60).default(15),
  /** The credential that mints it, for the audit log. */
  createdBy: z.string().min(1).max(200),
  origin: origin.optional(),
});

/** How long the page stays open once the link is used. */
export const portalSessionMinutes = 60;

export interface PortalLink {
  /** Append to Creditkeeper's address: opened once, it becomes the viewer's session. */
  path: string;
  expiresAt: Date;
  sessionMinutes: number;
  role: string | null;
  mayPurchase: boolean;
}

/**
 * The host product mints a one-time link to the credits page for one of its users and one
 * account they may see. The secret is returned once and stored hashed.
 */
export async function createPortalSession(ctx: CoreContext, input: z.input<typeof createPortalSessionInput>): Promise<PortalLink> {
  const request = parseInput(createPortalSessionInput, input);
  const standing = await viewerStanding(ctx, request.accountId, request.userExternalId);
  const secret = randomBytes(32).toString('base64url');
  const [row] = await ctx.db.sql.query<{ link_expires_at: Date }>(
    `INSERT INTO portal_sessions (link_hash, account_id, user_external_id, store_url, embed_origin, locale, time_zone, time_zone_source, page_size, created_by, link_expires_at)
     VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(mins => $11))
     RETURNING link_expires_at`,
    [
      hashSecret(secret),
      request.accountId,
      request.userExternalId,
      request.storeUrl ?? null,
      request.embedOrigin ?? null,
      request.locale,
      request.timeZone ?? standing.timeZone,
      request.timeZone ? 'host' : 'account',
      request.pageSize,
      request.createdBy,
      request.ttlMinutes,
    ],
  );
  await recordAudit(ctx, {
    actor: { kind: 'SERVICE', id: request.createdBy },
    action: 'portal.session',
    outcome: 'done',
    accountId: request.accountId,
    ...(request.origin && { origin: request.origin }),
    details: { userExternalId: request.userExternalId, role: standing.role },
  });
  return {
    path: `/portal/open?token=${secret}`,
    expiresAt: new Date(row!.link_expires_at),
    sessionMinutes: portalSessionMinutes,
    role: standing.role,
    mayPurchase: standing.mayPurchase,
  };
}
