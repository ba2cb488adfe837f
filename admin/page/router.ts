import express, { type NextFunction, type Request, type Response } from 'express';
import { getAccountOwner } from '../../core/accounts/accountOwner.js';
import { searchAccounts } from '../../core/accounts/searchAccounts.js';
import { listAudit } from '../../core/audit/listAudit.js';
import { listUnsettledCharges } from '../../core/billing/autoReloadCharges.js';
import type { CoreContext } from '../../core/context.js';
import { readFromReplica, streamFromReplica } from '../../core/db/readReplica.js';
import { CreditkeeperError, isCreditkeeperError } from '../../core/errors.js';
import { type Origin, timeZone as timeZoneSchema } from '../../core/input.js';
import { parseLocalDateTime } from '../../core/localDateTime.js';
import { adjust } from '../../core/ledger/adjust.js';
import { cancelScheduledWrite } from '../../core/ledger/cancelScheduledWrite.js';
import { listScheduledWrites } from '../../core/ledger/listScheduledWrites.js';
import { grantOrSchedule } from '../../core/ledger/scheduleGrant.js';
import type { ScheduledWriteView, ScheduleResult } from '../../core/ledger/scheduledWrites.js';
import type { WriteResult } from '../../core/ledger/writeSpec.js';
import { voidGrant } from '../../core/ledger/voidGrant.js';
import { getActivity } from '../../core/reports/activity.js';
import { getActivityGroup } from '../../core/reports/activityGroup.js';
import { addedSince } from '../../core/reports/addedSince.js';
import { getBalanceBreakdown } from '../../core/reports/balanceBreakdown.js';
import { getDailyUsage } from '../../core/reports/dailyUsage.js';
import { exportActivityCsv } from '../../core/reports/exportActivity.js';
import { listWebhookDeliveries } from '../../core/webhooks/listWebhookDeliveries.js';
import { listWebhookEndpoints } from '../../core/webhooks/listWebhookEndpoints.js';
import { replayWebhookDelivery } from '../../core/webhooks/replayWebhookDelivery.js';
import { streamCsv } from '../csv.js';
import { httpStatus } from '../httpErrors.js';
import { originOf } from '../originOf.js';
import type { SignInLimits } from '../rateLimit.js';
import { favicon, html, layout, type Viewer } from './html.js';
import { readCookie, sessionRoutes, type SignedIn, signedIn } from './session.js';
import { type AccountPage, accountView, type ActivityFilter, activityFilters } from './views/accountView.js';
import { auditView } from './views/auditView.js';
import { groupView } from './views/groupView.js';
import { loginForm } from './views/loginView.js';
import { searchView } from './views/searchView.js';
import { webhooksView } from './views/webhooksView.js';

/** The admin page, server-rendered with no front-end build: each route reads its input, calls core, renders a view. */
export function adminPage(ctx: CoreContext, signInLimits: SignInLimits): express.Router {
  const router = express.Router();
  router.use(express.urlencoded({ extended: false, limit: '16kb' }));
  const page = signedIn(ctx);
  sessionRoutes(router, ctx, signInLimits);
  router.get('/favicon.svg', (_req, res) => {
    res.type('image/svg+xml').set('Cache-Control', 'public, max-age=86400').send(favicon);
  });
  // The zone every time on the page is shown in: the viewer picks it (a page cannot ask the browser without a script).
  router.post(
    '/time-zone',
    page(async (req, res) => {
      const zone = timeZoneSchema.safeParse((req.body as Record<string, unknown>).zone);
      if (!zone.success) throw new CreditkeeperError('VALIDATION_FAILED', 'Pick a time zone from the list');
      res.cookie(zoneCookie, zone.data, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/admin', maxAge: 365 * 86_400_000 });
      res.redirect(303, safeBack((req.body as Record<string, unknown>).back));
    }),
  );

  router.get(
    '/',
    page(async (req, res) => {
      const search = typeof req.query.search === 'string' ? req.query.search.trim() : '';
      const found = search ? await readFromReplica(ctx, undefined, (reads) => searchAccounts(reads, { search }, req.session)) : [];
      res.send(layout('Accounts', searchView(search, found), viewerOf(req)));
    }),
  );
  router.get(
    '/accounts/:accountId',
    page(async (req, res) => {
      res.send(await accountPage(ctx, req, {}));
    }),
  );
  router.get(
    '/accounts/:accountId/activity.csv',
    page(async (req, res) => {
      const accountId = String(req.params.accountId);
      await streamCsv(res, streamFromReplica(ctx, accountId, (reads) => exportActivityCsv(reads, { accountId, filter: filterOf(req.query.filter) })));
    }),
  );
  router.get(
    '/accounts/:accountId/groups/:seq',
    page(async (req, res) => {
      const accountId = String(req.params.accountId);
      const entries = await getActivityGroup(ctx, { accountId, seq: String(req.params.seq) });
      res.send(layout('Grouped usage', groupView(accountId, entries, viewerOf(req).timeZone), viewerOf(req)));
    }),
  );
  /**
   * A staff write from the account page's form, under the form's key so a resubmit replays; it redirects to
   * the account showing what it did once, and a refusal re-renders the page with why.
   */
  type StaffWrite = { accountId: string; idempotencyKey: string; actor: { kind: 'STAFF'; id: string }; origin: Origin };
  const staffForm = (path: string, write: (form: Record<string, string>, staff: StaffWrite, timeZone: string) => Promise<WriteResult | ScheduleResult | ScheduledWriteView>) =>
    router.post(
      path,
      page(async (req, res) => {
        const accountId = String(req.params.accountId);
        const form = req.body as Record<string, string>;
        try {
          const staff = { accountId, idempotencyKey: form.key ?? '', actor: { kind: 'STAFF', id: req.session.staffId } as const, origin: originOf(req, 'admin-page') };
          const result = await write(form, staff, viewerOf(req).timeZone);
          res.redirect(303, `/admin/accounts/${accountId}?${shownOnce(result)}`);
        } catch (error) {
          if (!isCreditkeeperError(error)) throw error;
          res.status(httpStatus[error.code]).send(await accountPage(ctx, req, { error, form }));
        }
      }),
    );
  staffForm('/accounts/:accountId/adjustments', (form, staff) => adjust(ctx, { ...staff, amount: form.amount ?? '', reason: form.reason ?? '' }));
  staffForm('/accounts/:accountId/voids', (form, staff) => voidGrant(ctx, { ...staff, entryId: form.entryId ?? '', reason: form.reason ?? '' }));
  // A staff grant now or, with "effective at", when it is due; both times in the viewer's zone.
  staffForm('/accounts/:accountId/grants', (form, staff, timeZone) =>
    grantOrSchedule(ctx, {
      ...staff,
      type: 'MANUAL_CREDIT',
      bucket: (form.bucket ?? '') as 'BONUS',
      amount: form.amount ?? '',
      reason: form.reason ?? '',
      ...(form.expiresAt && { expiresAt: parseLocalDateTime(form.expiresAt, timeZone, 'expiresAt') }),
      ...(form.effectiveAt && { effectiveAt: parseLocalDateTime(form.effectiveAt, timeZone, 'effectiveAt') }),
    }),
  );
  staffForm('/accounts/:accountId/cancellations', (form, { accountId, actor, origin }) =>
    cancelScheduledWrite(ctx, { accountId, scheduledId: form.scheduledId ?? '', actor, origin, reason: form.reason ?? '' }),
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
      res.send(layout('Audit log', auditView(filters, log, viewerOf(req).timeZone), viewerOf(req)));
    }),
  );
  router.get(
    '/webhooks',
    page(async (req, res) => {
      const { endpoints } = await listWebhookEndpoints(ctx, req.session);
      const endpoint = endpoints.find((e) => e.id === req.query.endpoint);
      const chosen = endpoint && { endpoint, deliveries: (await listWebhookDeliveries(ctx, { endpointId: endpoint.id }, req.session)).deliveries };
      res.send(layout('Webhooks', webhooksView(endpoints, chosen, viewerOf(req).csrfToken, viewerOf(req).timeZone), viewerOf(req)));
    }),
  );
  router.post(
    '/webhooks/:endpointId/deliveries/:eventId/replay',
    page(async (req, res) => {
      const endpointId = String(req.params.endpointId);
      await replayWebhookDelivery(ctx, { endpointId, eventId: String(req.params.eventId) }, req.session);
      res.redirect(303, `/admin/webhooks?endpoint=${encodeURIComponent(endpointId)}`);
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

const zoneCookie = 'ck_admin_zone';

function viewerOf(req: SignedIn): Viewer {
  const chosen = timeZoneSchema.safeParse(readCookie(req, zoneCookie));
  return { staffId: req.session.staffId, csrfToken: req.session.csrfToken, timeZone: chosen.success ? chosen.data : 'UTC', here: req.originalUrl };
}

/** Back to the page the form was on when it is one of these pages (a path, never another site); else the start page. */
function safeBack(back: unknown): string {
  const url = typeof back === 'string' && back.startsWith('/') ? URL.parse(back, 'http://admin.invalid') : null;
  return url && url.host === 'admin.invalid' && (url.pathname === '/admin' || url.pathname.startsWith('/admin/')) ? `${url.pathname}${url.search}` : '/admin';
}

/** What the account page shows once after a form: the entry posted, the grant scheduled, or that one was cancelled. */
function shownOnce(result: WriteResult | ScheduleResult | ScheduledWriteView): string {
  if ('entries' in result) return `posted=${result.entries[0]!.seq}`;
  if ('scheduled' in result) return `scheduled=${result.scheduled.id}`;
  return 'cancelled=1';
}

/** The plan's own grants are the allocation; everything else added in the period is shown beside it. */
const planGrantTypes = new Set(['PLAN_GRANT', 'WEEKLY_GRANT']);

function filterOf(value: unknown): ActivityFilter {
  return activityFilters.find(([f]) => f === value)?.[0] ?? 'ALL';
}

async function accountPage(ctx: CoreContext, req: SignedIn, problem: AccountPage['problem']): Promise<string> {
  const accountId = String(req.params.accountId);
  const q = req.query as Record<string, string | undefined>;
  const filter = filterOf(q.filter);
  const viewer = viewerOf(req);
  // The chart's days and "this month" are the viewer's too.
  const { timeZone } = viewer;
  const [owner, breakdown, activity, usage, posted, unsettled, { scheduled }] = await Promise.all([
    getAccountOwner(ctx, accountId),
    getBalanceBreakdown(ctx, { accountId, timeZone }),
    getActivity(ctx, { accountId, filter, ...(q.cursor && { cursor: q.cursor }) }),
    getDailyUsage(ctx, { accountId, timeZone }),
    q.posted ? getActivityGroup(ctx, { accountId, seq: q.posted }).catch(() => []) : Promise.resolve([]),
    listUnsettledCharges(ctx.db.sql, accountId),
    listScheduledWrites(ctx, { accountId }),
  ]);
  const added = breakdown.plan ? await addedSince(ctx, accountId, breakdown.plan.periodStart) : [];
  const addedThisPeriod = added.filter((a) => !planGrantTypes.has(a.type));
  const page = { accountId, owner, addedThisPeriod, reachesEveryAccount: req.session.organisationId === null, filter, breakdown, activity, usage, posted: posted[0], unsettled, problem,
    scheduled, justScheduled: scheduled.find((s) => s.id === q.scheduled), cancelled: q.cancelled !== undefined };
  return layout('Account', accountView(page, viewer.csrfToken, viewer.timeZone), viewer);
}
