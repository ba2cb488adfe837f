import type express from 'express';
import type { Request, Response } from 'express';
import { ensureAccountInReach } from '../../core/access/accountReach.js';
import { type AdminSession, csrfMatches, endAdminSession, getAdminSession, startAdminSession } from '../../core/access/adminSession.js';
import { recordAudit } from '../../core/audit/recordAudit.js';
import type { CoreContext } from '../../core/context.js';
import { CreditkeeperError, isCreditkeeperError } from '../../core/errors.js';
import { originOf } from '../originOf.js';
import { rateLimited, type SignInLimits } from '../rateLimit.js';
import { html, layout } from './html.js';
import { loginForm } from './views/loginView.js';

/** The admin page's sessions: signing in with a token or a one-time link, the session cookie, and the guard on every page. */
const cookieName = 'ck_admin';

export type SignedIn = Request & { session: AdminSession; sessionSecret: string };
export type PageHandler = (req: SignedIn, res: Response) => Promise<void>;

/**
 * Wraps a page's handler: only a signed-in session reaches it, only within the session's reach
 * when it names an account, and a form only with the session's CSRF token.
 */
export function signedIn(ctx: CoreContext) {
  return (handler: PageHandler) => async (req: Request, res: Response) => {
    const secret = readCookie(req, cookieName);
    // Only an unknown or expired session means signing in again; a database that cannot answer is a 503.
    const session = secret ? await getAdminSession(ctx, secret).catch(unlessUnauthenticated) : undefined;
    if (!session) {
      if (req.method === 'GET') return res.redirect(303, '/admin/login');
      throw new CreditkeeperError('UNAUTHENTICATED', 'Sign in again');
    }
    Object.assign(req, { session, sessionSecret: secret });
    if (req.params.accountId !== undefined) await ensureAccountInReach(ctx, session, String(req.params.accountId));
    if (req.method === 'POST' && !csrfMatches(session, (req.body as Record<string, unknown>)?._csrf)) {
      throw new CreditkeeperError('FORBIDDEN', 'This form has expired; reload the page and try again');
    }
    await handler(req as SignedIn, res);
  };
}

/** /login (token), /login/:secret and /login/link (one-time link), /logout. */
export function sessionRoutes(router: express.Router, ctx: CoreContext, signInLimits: SignInLimits): void {
  router.get('/login', (_req, res) => {
    res.send(layout('Sign in', loginForm()));
  });
  router.post('/login', async (req, res) => {
    await signIn(ctx, signInLimits, req, res, { token: String((req.body as Record<string, unknown>)?.token ?? '') });
  });
  // A GET only shows a button: link previews and scanners must not use up a one-time link.
  router.get('/login/:secret', (req, res) => {
    res.send(layout('Sign in', html`<div class="card"><form method="post" action="/admin/login/link">
      <input type="hidden" name="secret" value="${req.params.secret}"><button>Sign in to Creditkeeper</button></form></div>`));
  });
  router.post('/login/link', async (req, res) => {
    await signIn(ctx, signInLimits, req, res, { loginLink: String((req.body as Record<string, unknown>)?.secret ?? '') });
  });
  router.post(
    '/logout',
    signedIn(ctx)(async (req, res) => {
      await endAdminSession(ctx, req.sessionSecret);
      res.clearCookie(cookieName, { path: '/admin' }).redirect(303, '/admin/login');
    }),
  );
}

async function signIn(ctx: CoreContext, signInLimits: SignInLimits, req: Request, res: Response, proof: { token: string } | { loginLink: string }): Promise<void> {
  const address = req.ip ?? 'unknown';
  const verdict = await signInLimits.attempt(address);
  if (!verdict.allowed) {
    // One audit row per burst, not one per refused guess.
    if (verdict.firstRefusal) {
      const { attempts, scope, retryAfterSeconds } = verdict;
      await recordAudit(ctx, { actor: { kind: 'STAFF' }, action: 'admin.sign-in', outcome: 'denied: rate limited', origin: originOf(req, 'admin-page'), details: { attempts, scope, retryAfterSeconds } });
    }
    throw rateLimited(verdict.retryAfterSeconds);
  }
  const session = await startAdminSession(ctx, proof, originOf(req, 'admin-page')).catch(async (error: unknown) => {
    // Only a refused proof is a failed sign-in. The attempt is given back if the counters can be
    // reached; when the database is down they were never counted.
    if (!isCreditkeeperError(error, 'UNAUTHENTICATED')) await signInLimits.succeeded(address).catch(() => undefined);
    throw error;
  });
  await signInLimits.succeeded(address);
  res.cookie(cookieName, session.secret, {
    httpOnly: true,
    sameSite: 'strict',
    secure: req.secure,
    path: '/admin',
    expires: session.expiresAt,
  });
  res.redirect(303, '/admin');
}

function unlessUnauthenticated(error: unknown): undefined {
  if (isCreditkeeperError(error, 'UNAUTHENTICATED')) return undefined;
  throw error;
}

export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}
