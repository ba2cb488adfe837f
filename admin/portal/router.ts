import express, { type NextFunction, type Request, type Response } from 'express';
import { openPortalSession } from '../../core/access/openPortalSession.js';
import { getPortalSession, type PortalSession } from '../../core/access/portalSession.js';
import { setPortalTimeZone } from '../../core/access/setPortalTimeZone.js';
import type { CoreContext } from '../../core/context.js';
import { CreditkeeperError, type ErrorCode, isCreditkeeperError } from '../../core/errors.js';
import { httpStatus } from '../httpErrors.js';
import { html } from '../page/html.js';
import { creditsPage } from './creditsPage.js';
import { groupPage } from './groupPage.js';
import { contentSecurityPolicy, layout } from './layout.js';
import { whyPage } from './whyPage.js';

/**
 * /portal, server-rendered and read-only: the host's one-time link becomes a cookie for /portal reaching the
 * one account it was minted for, so no page takes an account from the address.
 */
const cookieName = 'ck_portal';

export function portalPage(ctx: CoreContext): express.Router {
  const router = express.Router();
  router.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', contentSecurityPolicy(null));
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  const page = (render: (session: PortalSession, req: Request) => Promise<string>) => async (req: Request, res: Response) => {
    const secret = readCookie(req, cookieName);
    const session = await getPortalSession(ctx, secret ?? '');
    if (session.embedOrigin) {
      // The host frames the page: only its origin may (frame-ancestors replaces X-Frame-Options).
      res.setHeader('Content-Security-Policy', contentSecurityPolicy(session.embedOrigin));
      res.removeHeader('X-Frame-Options');
    }
    res.send(await render(session, req));
  };

  router.get('/open', async (req, res) => {
    const { secret, expiresAt } = await openPortalSession(ctx, { token: req.query.token as string });
    // Lax, not Strict: the host's redirect is a cross-site navigation, which Strict would strip on arrival.
    res.cookie(cookieName, secret, { httpOnly: true, sameSite: 'lax', secure: req.secure, path: '/portal', expires: expiresAt });
    res.redirect(303, '/portal');
  });
  // A POST, so another site cannot change a viewer's zone (the Lax cookie does not go with it).
  router.post('/zone', express.urlencoded({ extended: false, limit: '2kb' }), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    await setPortalTimeZone(ctx, { secret: readCookie(req, cookieName) ?? '', browserTimeZone: String(body.timeZone ?? '') });
    res.redirect(303, portalPath(body.to));
  });
  router.get('/', page((session, req) => creditsPage(ctx, session, req.query)));
  router.get('/groups/:seq', page((session, req) => groupPage(ctx, session, String(req.params.seq))));
  router.get('/why', page((session, req) => whyPage(ctx, session, req.query)));

  router.use((req: Request, _res: Response, next: NextFunction) => next(new CreditkeeperError('NOT_FOUND', `No page ${req.path}`)));
  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (!isCreditkeeperError(error)) return next(error);
    const problem = problems[error.code] ?? { title: 'That did not work', text: error.message };
    res.status(httpStatus[error.code]).send(layout(problem.title, html`<section class="card error" role="alert"><h2>${problem.title}</h2><p>${problem.text}</p></section>`));
  });
  return router;
}

/** What a visitor is told, in words: never which accounts exist. */
const problems: Partial<Record<ErrorCode, { title: string; text: string }>> = {
  PORTAL_LINK_INVALID: {
    title: 'This link has expired',
    text: 'Links to your credits page work once and only for a few minutes. Open the credits page again from the website you came from.',
  },
  NOT_FOUND: { title: 'Nothing here', text: 'There is no such page. Go back to your credits page.' },
  ENTRY_NOT_FOUND: { title: 'Nothing here', text: 'That activity row is not on this account.' },
  ACCOUNT_NOT_FOUND: { title: 'This link has expired', text: 'Open the credits page again from the website you came from.' },
};

/** Back to the page the viewer was on: a path of the portal, never another site. */
function portalPath(to: unknown): string {
  return typeof to === 'string' && /^\/portal(?:[/?]|$)/.test(to) && !/[\\\s]/.test(to) ? to : '/portal';
}

function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    // The secret is base64url: nothing to decode, and nothing malformed to fail on.
    if (key === name) return value.join('=');
  }
  return undefined;
}
