import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ensureAccountInReach } from '../../core/access/accountReach.js';
import { type AdminSession, csrfMatches, endAdminSession, getAdminSession, startAdminSession } from '../../core/access/adminSession.js';
import { searchAccounts } from '../../core/accounts/searchAccounts.js';
import { listUnsettledCharges } from '../../core/billing/autoReloadCharges.js';
import { listAudit } from '../../core/audit/listAudit.js';
import { recordAudit } from '../../core/audit/recordAudit.js';
import type { CoreContext } from '../../core/context.js';
import { CreditkeeperError, isCreditkeeperError } from '../../core/errors.js';
import type { Origin } from '../../core/input.js';
import { adjust } from '../../core/ledger/adjust.js';
import { getActivity } from '../../core/reports/activity.js';
import { getActivityGroup } from '../../core/reports/activityGroup.js';
import { getBalanceBreakdown } from '../../core/reports/balanceBreakdown.js';
import { getDailyUsage } from '../../core/reports/dailyUsage.js';
import { exportActivityCsv } from '../../core/reports/exportActivity.js';
import { streamCsv } from '../csv.js';
import { httpStatus } from '../httpErrors.js';
import { rateLimited, type SignInLimits } from '../rateLimit.js';
import { credits, html, type Html, layout, when } from './html.js';
import { usageChart } from './usageChart.js';

/**
 * The admin web page: server-rendered, no front-end build. Staff sign in with an admin token or
 * a one-time link, find an account, read its ledger with the filters users see, adjust it with a
 * reason, and read the audit log. Forms carry a session-bound CSRF token and an idempotency key.
 */
const cookieName = 'ck_admin';
type SignedIn = Request & { session: AdminSession; sessionSecret: string };

export function adminPage(ctx: CoreContext, signInLimits: SignInLimits): express.Router {
  const router = express.Router();
  router.use(express.urlencoded({ extended: false, limit: '16kb' }));
  const page = (handler: (req: SignedIn, res: Response) => Promise<void>) => async (req: Request, res: Response) => {
    const secret = readCookie(req, cookieName);
    // Only an unknown or expired session means signing in again; a database that cannot answer is a 503.
    const session = secret ? await getAdminSession(ctx, secret).catch(unlessUnauthenticated) : undefined;
    if (!session) {
      if (req.method === 'GET') return res.redirect(303, '/admin/login');
      throw new CreditkeeperError('UNAUTHENTICATED', 'Sign in again');
    }
    Object.assign(req, { session, sessionSecret: secret });
    // Every page about an account, and every action on one, stays within the session's reach.
    if (req.params.accountId !== undefined) await ensureAccountInReach(ctx, session, String(req.params.accountId));
    if (req.method === 'POST' && !csrfMatches(session, (req.body as Record<string, unknown>)?._csrf)) {
      throw new CreditkeeperError('FORBIDDEN', 'This form has expired; reload the page and try again');
    }
    await handler(req as SignedIn, res);
  };
  const origin = (req: Request): Origin => ({
    transport: 'admin-page',
    requestId: String(req.id),
    ...(req.ip && { ip: req.ip }),
    ...(req.headers['user-agent'] && { userAgent: req.headers['user-agent'].slice(0, 500) }),
  });
  const signIn = async (req: Request, res: Response, proof: { token: string } | { loginLink: string }) => {
    const address = req.ip ?? 'unknown';
    const verdict = await signInLimits.attempt(address);
    if (!verdict.allowed) {
      // One audit row per burst, not one per refused guess.
      if (verdict.firstRefusal) {
        const { attempts, scope, retryAfterSeconds } = verdict;
        await recordAudit(ctx, { actor: { kind: 'STAFF' }, action: 'admin.sign-in', outcome: 'denied: rate limited', origin: origin(req), details: { attempts, scope, retryAfterSeconds } });
      }
      throw rateLimited(verdict.retryAfterSeconds);
    }
    const session = await startAdminSession(ctx, proof, origin(req)).catch(async (error: unknown) => {
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
  };

  router.get('/login', (_req, res) => {
    res.send(layout('Sign in', loginForm()));
  });
  router.post('/login', async (req, res) => {
    await signIn(req, res, { token: String((req.body as Record<string, unknown>)?.token ?? '') });
  });
  // A GET only shows a button: link previews and scanners must not use up a one-time link.
  router.get('/login/:secret', (req, res) => {
    res.send(layout('Sign in', html`<div class="card"><form method="post" action="/admin/login/link">
      <input type="hidden" name="secret" value="${req.params.secret}"><button>Sign in to Creditkeeper</button></form></div>`));
  });
  router.post('/login/link', async (req, res) => {
    await signIn(req, res, { loginLink: String((req.body as Record<string, unknown>)?.secret ?? '') });
  });
  router.post(
    '/logout',
    page(async (req, res) => {
      await endAdminSession(ctx, req.sessionSecret);
      res.clearCookie(cookieName, { path: '/admin' }).redirect(303, '/admin/login');
    }),
  );

  router.get(
    '/',
    page(async (req, res) => {
      const search = typeof req.query.search === 'string' ? req.query.search.trim() : '';
      const found = search ? await searchAccounts(ctx, { search }, req.session) : [];
      res.send(
        layout(
          'Accounts',
          html`<h1>Find an account</h1>
          <form method="get" action="/admin"><input name="search" value="${search}" placeholder="account id, external id or name" size="40" autofocus> <button>Search</button></form>
          ${search
            ? html`<table><thead><tr><th>Owner</th><th>Kind</th><th>Organisation</th><th class="num">Balance</th><th class="num">Outstanding</th></tr></thead><tbody>
              ${found.map((a) => html`<tr><td><a href="/admin/accounts/${a.accountId}">${a.name ?? a.externalId}</a> <span class="muted">${a.externalId}</span></td><td>${a.ownerKind.toLowerCase()}</td><td>${a.organisation}</td><td class="num">${a.balance.toLocaleString('en')}</td><td class="num">${a.outstanding.toLocaleString('en')}</td></tr>`)}
              </tbody></table>${found.length === 0 ? html`<p>No account matches “${search}”.</p>` : ''}`
            : ''}`,
          req.session.staffId,
          req.session.csrfToken,
        ),
      );
    }),
  );

  router.get(
    '/accounts/:accountId',
    page(async (req, res) => {
      res.send(await accountPage(ctx, req, String(req.params.accountId), {}));
    }),
  );
  router.get(
    '/accounts/:accountId/activity.csv',
    page(async (req, res) => {
      const filter = filters.some(([f]) => f === req.query.filter) ? String(req.query.filter) : 'ALL';
      await streamCsv(res, exportActivityCsv(ctx, { accountId: String(req.params.accountId), filter: filter as 'ALL' }));
    }),
  );
  router.get(
    '/accounts/:accountId/groups/:seq',
    page(async (req, res) => {
      const accountId = String(req.params.accountId);
      const entries = await getActivityGroup(ctx, { accountId, seq: String(req.params.seq) });
      res.send(
        layout(
          'Grouped usage',
          html`<h1>${entries.length} entries in one activity row</h1>
          <p><a href="/admin/accounts/${accountId}">Back to the account</a></p>
          <table><thead><tr><th>Date</th><th>Activity</th><th>Source</th><th class="num">Credits</th><th class="num">Balance</th><th>Entry</th></tr></thead><tbody>
          ${entries.map((e) => html`<tr><td>${when(e.createdAt)}</td><td>${e.category ?? e.label}<br><span class="muted">${e.description}${e.quantity ? ` ×${e.quantity}` : ''}</span></td>
            <td>${e.source.label ?? e.source.id ?? ''}</td><td class="num">${credits(e.amount)}</td><td class="num">${e.balanceAfter.toLocaleString('en')}</td><td class="muted">${e.id}</td></tr>`)}
          </tbody></table>`,
          req.session.staffId,
          req.session.csrfToken,
        ),
      );
    }),
  );
  router.post(
    '/accounts/:accountId/adjustments',
    page(async (req, res) => {
      const accountId = String(req.params.accountId);
      const form = req.body as Record<string, string>;
      try {
        const result = await adjust(ctx, {
          accountId,
          idempotencyKey: form.key ?? '',
          amount: form.amount ?? '',
          reason: form.reason ?? '',
          actor: { kind: 'STAFF', id: req.session.staffId },
          origin: origin(req),
        });
        res.redirect(303, `/admin/accounts/${accountId}?posted=${result.entries[0]!.seq}`);
      } catch (error) {
        if (!isCreditkeeperError(error)) throw error;
        res.status(httpStatus[error.code]).send(await accountPage(ctx, req, accountId, { error, form }));
      }
    }),
  );

  router.get(
    '/audit',
    page(async (req, res) => {
      const q = req.query as Record<string, string | undefined>;
      const filters = {
        ...(q.accountId && { accountId: q.accountId }),
        ...(q.actorId && { actorId: q.actorId }),
        ...(q.from && { from: q.from }),
        ...(q.to && { to: q.to }),
      };
      const log = await listAudit(ctx, { ...filters, ...(q.cursor && { cursor: q.cursor }) }, req.session);
      res.send(
        layout(
          'Audit log',
          html`<h1>Audit log</h1>
          <form method="get"><input name="accountId" value="${q.accountId}" placeholder="account id" size="38"> <input name="actorId" value="${q.actorId}" placeholder="staff member">
            <label style="display:inline">from <input name="from" type="date" value="${q.from}"></label> <label style="display:inline">to <input name="to" type="date" value="${q.to}"></label> <button>Filter</button></form>
          <table><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Outcome</th><th>Account</th><th>Reason</th><th>From</th></tr></thead><tbody>
          ${log.rows.map(
            (r) => html`<tr><td>${when(r.at)}</td><td>${r.actor.id ?? r.actor.kind.toLowerCase()}</td><td>${r.action}</td><td>${r.outcome}</td>
              <td>${r.accountId ? html`<a href="/admin/accounts/${r.accountId}">${r.accountId.slice(0, 8)}</a>` : ''}</td><td>${r.reason}</td>
              <td class="muted">${String(r.origin?.transport ?? '')} ${String(r.origin?.ip ?? '')}</td></tr>`,
          )}
          </tbody></table>
          ${log.next ? html`<p><a href="?${new URLSearchParams({ ...filters, cursor: log.next }).toString()}">Older</a></p>` : ''}`,
          req.session.staffId,
          req.session.csrfToken,
        ),
      );
    }),
  );

  router.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!isCreditkeeperError(error)) return next(error);
    if (typeof error.details.retryAfterSeconds === 'number') res.setHeader('Retry-After', String(error.details.retryAfterSeconds));
    res.status(httpStatus[error.code]).send(
      layout('Problem', html`<div class="card error"><strong>${error.code}</strong>: ${error.message}</div>
        ${error.code === 'UNAUTHENTICATED' ? loginForm() : html`<p><a href="${req.get('referer') ?? '/admin'}">Back</a></p>`}`),
    );
  });
  return router;
}

function unlessUnauthenticated(error: unknown): undefined {
  if (isCreditkeeperError(error, 'UNAUTHENTICATED')) return undefined;
  throw error;
}

function loginForm(): Html {
  return html`<div class="card"><h1>Sign in</h1>
  <form method="post" action="/admin/login"><label>Admin token <input name="token" type="password" size="50" autocomplete="off" required></label><button>Sign in</button></form>
  <p class="muted">Or use a one-time link: <code>npm run creditkeeper -- login-link --staff your.name</code></p></div>`;
}

const filters = [
  ['ALL', 'All'],
  ['ADDED', 'Added'],
  ['USED', 'Used'],
  ['ADJUSTMENTS', 'Adjustments'],
] as const;

async function accountPage(
  ctx: CoreContext,
  req: SignedIn,
  accountId: string,
  problem: { error?: CreditkeeperError; form?: Record<string, string> },
): Promise<string> {
  const q = req.query as Record<string, string | undefined>;
  const filter = filters.some(([f]) => f === q.filter) ? (q.filter as (typeof filters)[number][0]) : 'ALL';
  const [breakdown, activity, usage, posted, unsettled] = await Promise.all([
    getBalanceBreakdown(ctx, { accountId }),
    getActivity(ctx, { accountId, filter, ...(q.cursor && { cursor: q.cursor }) }),
    getDailyUsage(ctx, { accountId }),
    q.posted ? getActivityGroup(ctx, { accountId, seq: q.posted }).catch(() => []) : Promise.resolve([]),
    listUnsettledCharges(ctx.db.sql, accountId),
  ]);
  const link = (params: Record<string, string>) => `/admin/accounts/${accountId}?${new URLSearchParams(params).toString()}`;
  const entry = posted[0];
  return layout(
    'Account',
    html`<h1>Account <span class="muted">${accountId}</span></h1>
    ${entry ? html`<div class="card notice" role="status">Posted: ${entry.label} ${credits(entry.amount)} — balance after ${entry.balanceAfter.toLocaleString('en')}. ${entry.note ? html`Reason: “${entry.note}”` : ''}</div>` : ''}
    ${problem.error ? html`<div class="card error" role="alert"><strong>${problem.error.code}</strong>: ${problem.error.message}</div>` : ''}
    <div class="card"><div class="big">${breakdown.available.toLocaleString('en')} credits available</div>
      ${breakdown.outstanding > 0n ? html`<p>Outstanding: ${breakdown.outstanding.toLocaleString('en')} (paid first by the next addition)</p>` : ''}
      ${breakdown.inFlightDeposits.count > 0 ? html`<p>In flight: ${breakdown.inFlightDeposits.count} ${breakdown.inFlightDeposits.count === 1 ? 'deposit' : 'deposits'}, ${breakdown.inFlightDeposits.amount.toLocaleString('en')} credits</p>` : ''}
      <table><thead><tr><th>Kind</th><th class="num">Credits</th><th>Next expiry</th></tr></thead><tbody>
      ${breakdown.kinds.map((k) => html`<tr><td>${k.kind.toLowerCase()}</td><td class="num">${k.remaining.toLocaleString('en')}</td><td>${k.nextExpiry ? when(k.nextExpiry) : 'never'}</td></tr>`)}
      </tbody></table>
      ${breakdown.plan
        ? html`<p>${breakdown.plan.name} plan (${breakdown.plan.status.toLowerCase()}): used ${breakdown.plan.usedThisPeriod.toLocaleString('en')} of ${breakdown.plan.allocation.toLocaleString('en')} this ${breakdown.plan.period} (${breakdown.plan.usageRatePercent}%).
            ${breakdown.plan.nextGrant ? html`Next grant: +${breakdown.plan.nextGrant.credits.toLocaleString('en')} on ${when(breakdown.plan.nextGrant.at)}.` : html`No more grants after ${when(breakdown.plan.periodEnd)}.`}</p>`
        : ''}
      <p class="muted">Used in ${breakdown.usedThisPeriod.period}: ${breakdown.usedThisPeriod.used.toLocaleString('en')} credits in ${breakdown.usedThisPeriod.transactions} transactions.</p></div>
    ${unsettled.length > 0
      ? html`<div class="card"><h2>Auto-reload charges of unknown outcome</h2>
      <p class="muted">The payment webhook's answer was lost: the card may have been charged. They count towards the month and are credited once the host confirms them (the settler asks it again).</p>
      <table><thead><tr><th>Charge key</th><th class="num">Credits</th><th>Status</th><th class="num">Attempts</th><th>Last attempt</th><th>Last error</th></tr></thead><tbody>
      ${unsettled.map((c) => html`<tr><td>${c.chargeKey}</td><td class="num">${c.credits.toLocaleString('en')}</td><td>${c.status.toLowerCase()}</td><td class="num">${c.attempts}</td>
        <td>${c.lastAttemptAt ? when(c.lastAttemptAt) : ''}</td><td class="muted">${c.lastError ?? ''}</td></tr>`)}
      </tbody></table></div>`
      : ''}
    <div class="card"><h2>Adjust the balance</h2>
      <form method="post" action="/admin/accounts/${accountId}/adjustments">
        <input type="hidden" name="_csrf" value="${req.session.csrfToken}"><input type="hidden" name="key" value="adjust-${randomUUID()}">
        <label>Credits (negative to remove) <input name="amount" value="${problem.form?.amount}" required pattern="-?[0-9]+" size="10"></label>
        <label>Reason (required, the user sees it on the log) <input name="reason" value="${problem.form?.reason}" size="60" required></label>
        <button>Post adjustment</button>
      </form></div>
    <div class="card"><h2>Daily usage, last 30 days</h2>${usageChart(usage)}</div>
    <div class="card"><h2>Credit activity</h2>
      <p class="segments">${filters.map(([f, label]) => html`<a class="${f === filter ? 'on' : ''}" href="${link({ filter: f })}">${label}</a>`)}</p>
      <table><thead><tr><th>Date</th><th>Activity</th><th>Source</th><th>By</th><th class="num">Credits</th><th class="num">Balance</th></tr></thead><tbody>
      ${activity.rows.map(
        (r) => html`<tr><td>${when(r.startedAt)}${r.count > 1 ? html`<br><span class="muted">to ${when(r.endedAt)}</span>` : ''}</td>
          <td>${r.category ?? r.label}${r.count > 1 ? html` <a class="muted" href="/admin/accounts/${accountId}/groups/${r.seq.toString()}">×${r.count}</a>` : ''}<br><span class="muted">${r.description}${r.note ? html` — “${r.note}”` : ''}</span></td>
          <td>${r.source.url ? html`<a href="${r.source.url}" rel="noreferrer">${r.source.label ?? r.source.id ?? r.source.kind}</a>` : (r.source.label ?? r.source.id ?? '')}</td>
          <td>${actorName(r.actor)}</td>
          <td class="num">${r.originalAmount !== null ? html`<s>${r.originalAmount.toLocaleString('en')}</s> <span class="badge">${r.discountPercent ?? ''}% off</span> ` : ''}${credits(r.amount)}</td>
          <td class="num">${r.balanceAfter.toLocaleString('en')}</td></tr>`,
      )}
      </tbody></table>
      <p>${activity.showing.total === 0 ? 'Nothing yet.' : `Showing ${activity.showing.from}–${activity.showing.to} of ${activity.showing.total}`}
        · <a href="/admin/accounts/${accountId}/activity.csv?filter=${filter}">Download CSV</a>
        ${activity.previous ? html` · <a href="${link({ filter, cursor: activity.previous })}">Previous</a>` : ''}
        ${activity.next ? html` · <a href="${link({ filter, cursor: activity.next })}">Next</a>` : ''}</p></div>`,
    req.session.staffId,
    req.session.csrfToken,
  );
}

function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

/** Who triggered an entry, as the usage table names it: the member or staff member, else System. */
function actorName(actor: { kind: string; id: string | null }): string {
  if (actor.kind === 'USER' && actor.id) return actor.id;
  if (actor.kind === 'STAFF' && actor.id) return `${actor.id} (staff)`;
  return 'System';
}
