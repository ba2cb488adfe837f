import { z } from 'zod';
import type { PortalSession } from '../../core/access/portalSession.js';
import type { CoreContext } from '../../core/context.js';
import { parseInput } from '../../core/input.js';
import { type ActivityPage, type ActivityRow, getActivity } from '../../core/reports/activity.js';
import { type BalanceBreakdown, getBalanceBreakdown } from '../../core/reports/balanceBreakdown.js';
import { getDailyUsage } from '../../core/reports/dailyUsage.js';
import { getMonthlySummary, type MonthlySummary } from '../../core/reports/monthlySummary.js';
import { html, type Html } from '../page/html.js';
import { type Formats, formatsFor } from './format.js';
import { layout } from './layout.js';
import { usageChart } from './usageChart.js';

/**
 * The credits page: the balance cards, the 30-day chart, the monthly summary,
 * and one table at a time — Credit activity with its segments, Credit usage, Purchase history.
 */
const segments = [
  ['ALL', 'All'],
  ['ADDED', 'Added'],
  ['USED', 'Used'],
  ['ADJUSTMENTS', 'Adjustments'],
] as const;
const tables = [
  ['activity', 'Credit activity'],
  ['usage', 'Credit usage'],
  ['purchases', 'Purchase history'],
] as const;

export const creditsQuery = z.strictObject({
  table: z.enum(['activity', 'usage', 'purchases']).default('activity'),
  filter: z.enum(['ALL', 'ADDED', 'USED', 'ADJUSTMENTS']).default('ALL'),
  cursor: z.string().max(200).optional(),
});
type CreditsQuery = z.infer<typeof creditsQuery>;

export async function creditsPage(ctx: CoreContext, session: PortalSession, rawQuery: unknown): Promise<string> {
  const query = parseInput(creditsQuery, rawQuery);
  const { accountId, timeZone } = session;
  // The tabs are the log filtered: usage is the Used segment, purchases the Added one.
  const filter = query.table === 'usage' ? 'USED' : query.table === 'purchases' ? 'ADDED' : query.filter;
  const [breakdown, daily, monthly, activity] = await Promise.all([
    getBalanceBreakdown(ctx, { accountId, timeZone }),
    getDailyUsage(ctx, { accountId, timeZone }),
    getMonthlySummary(ctx, { accountId, timeZone }),
    getActivity(ctx, { accountId, filter, pageSize: session.pageSize, ...(query.cursor && { cursor: query.cursor }) }),
  ]);
  const f = formatsFor(session.locale, timeZone);
  return layout(
    `Credits · ${session.accountName}`,
    html`${balanceCards(breakdown, session, f)}
<section class="card"><h2>Daily credit usage (last 30 days)</h2>${usageChart(daily, f)}</section>
<section><h2>Monthly usage summary</h2>${monthCards(monthly, f)}</section>
<section class="card" id="log">${tableTabs(query.table)}
${query.table === 'activity' ? segmentLinks(query.filter) : ''}
${query.table === 'activity' ? activityTable(activity, f) : historyTable(activity, query.table, f)}
${pager(activity, query, f)}
<p class="muted">${f.zoneLabel}.</p></section>`,
    session,
    'credits',
  );
}

function balanceCards(b: BalanceBreakdown, session: PortalSession, f: Formats): Html {
  const used = b.plan ? b.plan.usedThisPeriod : b.usedThisPeriod.used;
  return html`<section class="cards" aria-label="Balance">
<div class="card"><p class="label">Available credits</p><p class="big" data-testid="available">${f.number(b.available)}</p>
  ${b.kinds.map((k) => html`<p class="muted">${kindName(k.kind)} ${f.number(k.remaining)} · ${k.nextExpiry ? `expires ${f.at(k.nextExpiry)}` : 'never expires'}</p>`)}
  ${b.costPerCredit
    ? html`<details><summary><span class="when-closed">Show</span><span class="when-open">Hide</span> cost per credit</summary><p>One credit costs <strong>${b.costPerCredit.amount} ${b.costPerCredit.currency}</strong>.</p></details>`
    : ''}
  ${session.viewer.mayPurchase && session.storeUrl ? html`<p><a class="button" href="${session.storeUrl}" target="_top" rel="noopener">Purchase credits</a></p>` : ''}
</div>
<div class="card"><p class="label">Total used</p><p class="big used">${f.number(used)}</p>
  <p class="muted">${b.plan ? `this ${b.plan.period} of your ${b.plan.name} plan` : `in ${f.month(b.usedThisPeriod.period)}`}</p></div>
${b.plan
  ? html`<div class="card"><p class="label">Usage rate</p><p class="big">${f.number(b.plan.usageRatePercent)}%</p>
  <meter min="0" max="100" low="70" high="90" optimum="0" value="${Math.min(100, b.plan.usageRatePercent)}">${b.plan.usageRatePercent}%</meter>
  <p class="muted">${f.number(b.plan.usedThisPeriod)} of ${f.number(b.plan.allocation)} · ${b.plan.nextGrant ? `next grant +${f.number(b.plan.nextGrant.credits)} on ${f.at(b.plan.nextGrant.at)}` : `no more grants after ${f.at(b.plan.periodEnd)}`}</p></div>`
  : ''}
${b.inFlightDeposits.count > 0
  ? html`<div class="card warn"><p class="label">In flight</p><p class="big">${f.number(b.inFlightDeposits.amount)}</p>
  <p class="muted">${f.number(b.inFlightDeposits.count)} ${b.inFlightDeposits.count === 1 ? 'submission' : 'submissions'}: deducted at submit, reconciled after delivery.</p></div>`
  : ''}
${b.outstanding > 0n
  ? html`<div class="card warn"><p class="label">Outstanding</p><p class="big used">${f.number(b.outstanding)}</p>
  <p class="muted">Owed, not part of the balance: your next top-up pays it first.</p></div>`
  : ''}
</section>`;
}

function monthCards(summary: MonthlySummary, f: Formats): Html {
  return html`<div class="months">${summary.months.map(
    (m) => html`<div class="card"><p class="label">${f.month(m.month)} ${m.current ? html`<span class="badge current">Current</span>` : ''}</p>
<p class="big used">${f.number(m.used)}</p><p class="muted">credits used · ${f.number(m.transactions)} usage ${m.transactions === 1 ? 'transaction' : 'transactions'}</p></div>`,
  )}</div>`;
}

function tableTabs(current: CreditsQuery['table']): Html {
  return html`<ul class="tabs">${tables.map(([table, label]) => html`<li><a href="/portal?table=${table}#log"${table === current ? html` aria-current="page"` : ''}>${label}</a></li>`)}</ul>`;
}

/** A segment's link carries no cursor, so changing the filter starts at page 1. */
function segmentLinks(current: CreditsQuery['filter']): Html {
  return html`<ul class="segments" aria-label="Filter">${segments.map(([filter, label]) => html`<li><a href="/portal?filter=${filter}#log"${filter === current ? html` aria-current="page"` : ''}>${label}</a></li>`)}</ul>`;
}

function activityTable(page: ActivityPage, f: Formats): Html {
  if (page.rows.length === 0) return html`<p>Nothing here yet.</p>`;
  return html`<table class="rows"><thead><tr><th>Date</th><th>Activity</th><th>Source</th><th class="num">Credits</th><th class="num">Balance</th></tr></thead><tbody>
${page.rows.map(
  (r) => html`<tr><td data-label="Date">${f.window(r.startedAt, r.endedAt)}${r.occurredAt ? html`<br><span class="muted">occurred ${f.at(r.occurredAt)}</span>` : ''}</td>
<td data-label="Activity"><div>${r.category ?? r.label}${r.count > 1 ? html` <a href="/portal/groups/${r.seq.toString()}">×${r.count}</a>` : ''}<br><span class="muted">${r.description}${r.note ? ` — “${r.note}”` : ''}</span></div></td>
<td data-label="Source">${sourceLink(r)}</td>
<td data-label="Credits" class="num"><div>${amount(r, f)}</div></td>
<td data-label="Balance" class="num">${f.number(r.balanceAfter)}</td></tr>`,
)}
</tbody></table>`;
}

/** The Credit Usage and Purchase History: Type, Credits, Event, Event ID, User, Date. */
function historyTable(page: ActivityPage, table: CreditsQuery['table'], f: Formats): Html {
  if (page.rows.length === 0) return html`<p>${table === 'usage' ? 'No usage yet.' : 'No credits added yet.'}</p>`;
  return html`<table class="rows"><thead><tr><th>Type</th><th class="num">Credits</th><th>Event</th><th>Event ID</th><th>User</th><th>Date</th></tr></thead><tbody>
${page.rows.map(
  (r) => html`<tr><td data-label="Type">${table === 'usage' ? html`<div>Usage <span class="muted">${r.category ?? r.label}${r.count > 1 ? html` <a href="/portal/groups/${r.seq.toString()}">×${r.count}</a>` : ''}</span></div>` : r.label}</td>
<td data-label="Credits" class="num"><div>${amount(r, f)}</div></td>
<td data-label="Event">${sourceLink(r)}</td>
<td data-label="Event ID">${r.source.id ?? ''}</td>
<td data-label="User">${userName(r.actor)}</td>
<td data-label="Date">${f.window(r.startedAt, r.endedAt)}</td></tr>`,
)}
</tbody></table>`;
}

function pager(page: ActivityPage, query: CreditsQuery, f: Formats): Html {
  const link = (cursor: string) => `/portal?${new URLSearchParams({ table: query.table, ...(query.table === 'activity' && { filter: query.filter }), cursor }).toString()}#log`;
  const { from, to, total } = page.showing;
  return html`<p class="pager"><span data-testid="showing">${total === 0 ? 'Showing 0 of 0' : `Showing ${f.number(from)}–${f.number(to)} of ${f.number(total)}`}</span>
${page.previous ? html`<a href="${link(page.previous)}" rel="prev">Previous</a>` : ''}${page.next ? html`<a href="${link(page.next)}" rel="next">Next</a>` : ''}</p>`;
}

/** A discounted row shows the original struck through and its percent off. */
function amount(r: ActivityRow, f: Formats): Html {
  const discount = r.originalAmount !== null ? html`<s>${f.signed(r.originalAmount)}</s> ${r.discountPercent !== null ? html`<span class="badge">${f.number(r.discountPercent)}% off</span> ` : ''}` : '';
  return html`${discount}<span class="${r.amount > 0n ? 'plus' : r.amount < 0n ? 'minus' : ''}">${f.signed(r.amount)}</span>`;
}

/** The source's label, linked where the host gave a web address (html drops any other kind). */
export function sourceLink(r: Pick<ActivityRow, 'source'>): Html | string {
  const text = r.source.label ?? r.source.id ?? '';
  return r.source.url && text ? html`<a href="${r.source.url}" target="_blank" rel="noopener noreferrer">${text}</a>` : text;
}

/** The User column: the member who did it, or System for automated runs. */
export function userName(actor: { kind: string; id: string | null }): string {
  if (actor.kind === 'USER' && actor.id) return actor.id;
  if (actor.kind === 'STAFF') return 'Support team';
  return 'System';
}

export function kindName(kind: string): string {
  return kind.charAt(0) + kind.slice(1).toLowerCase();
}
