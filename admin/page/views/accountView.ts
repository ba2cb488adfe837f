import { randomUUID } from 'node:crypto';
import type { AccountOwner, Party } from '../../../core/accounts/accountOwner.js';
import type { AutoReloadCharge } from '../../../core/billing/autoReloadCharges.js';
import type { CreditkeeperError } from '../../../core/errors.js';
import type { EntryView } from '../../../core/ledger/entryView.js';
import type { ScheduledWriteView } from '../../../core/ledger/scheduledWrites.js';
import type { ActivityPage } from '../../../core/reports/activity.js';
import type { BalanceBreakdown } from '../../../core/reports/balanceBreakdown.js';
import type { DailyUsage } from '../../../core/reports/dailyUsage.js';
import { entryTypes } from '../../../core/ledger/entryTypes.js';
import { credits, html, type Html, when } from '../html.js';
import { usageChart } from '../usageChart.js';

export const activityFilters = [
  ['ALL', 'All'],
  ['ADDED', 'Added'],
  ['USED', 'Used'],
  ['ADJUSTMENTS', 'Adjustments'],
] as const;
export type ActivityFilter = (typeof activityFilters)[number][0];

export interface AccountPage {
  accountId: string;
  owner: AccountOwner;
  /** Credits added this billing period besides the plan's grant, by type (only with a plan). */
  addedThisPeriod: { label: string; amount: bigint }[];
  /** Links only to accounts the session reaches (an organisation-limited one reaches no personal account). */
  reachesEveryAccount: boolean;
  filter: ActivityFilter;
  breakdown: BalanceBreakdown;
  activity: ActivityPage;
  usage: DailyUsage;
  /** The entry an adjustment just posted, shown once. */
  posted: EntryView | undefined;
  unsettled: AutoReloadCharge[];
  problem: { error?: CreditkeeperError; form?: Record<string, string> };
  /** Dated grants and purchases still to land, soonest first. */
  scheduled: ScheduledWriteView[];
  /** The one the grant form just scheduled, shown once. */
  justScheduled: ScheduledWriteView | undefined;
  /** A scheduled one was just cancelled. */
  cancelled: boolean;
}

/** One account: its balance and what it is made of, unsettled charges, the adjustment form, the chart and the activity log. */
export function accountView(page: AccountPage, csrfToken: string, timeZone: string): Html {
  const { accountId, breakdown, posted, problem, justScheduled } = page;
  const at = (date: Date) => when(date, timeZone);
  // A refused form comes back filled in, and only that form.
  const refused = (name: string) => (problem.form?.form === name ? problem.form : undefined);
  return html`${ownerHeading(page)}
    ${posted ? html`<div class="card notice" role="status">Posted: ${posted.label} ${credits(posted.amount)} — balance after ${posted.balanceAfter.toLocaleString('en')}. ${posted.note ? html`Reason: “${posted.note}”` : ''}</div>` : ''}
    ${justScheduled ? html`<div class="card notice" role="status">Scheduled: ${scheduledCredits(justScheduled)} on ${at(justScheduled.effectiveAt)}. They land then; until then it can be cancelled below.</div>` : ''}
    ${page.cancelled ? html`<div class="card notice" role="status">Cancelled: it will not land. The audit log has who and why.</div>` : ''}
    ${problem.error ? html`<div class="card error" role="alert"><strong>${problem.error.code}</strong>: ${problem.error.message}</div>` : ''}
    <div class="card"><div class="stats">
        <div><div class="big">${breakdown.available.toLocaleString('en')}</div> credits available</div>
        <div><div class="big ${breakdown.outstanding > 0n ? 'minus' : ''}">${breakdown.outstanding.toLocaleString('en')}</div> outstanding <span class="muted">(owed; the next addition pays it first)</span></div>
        <div><div class="big">${breakdown.inFlightDeposits.amount.toLocaleString('en')}</div> in ${counted(breakdown.inFlightDeposits.count, 'deposit')} in flight <span class="muted">(charged at submit, reconciled after delivery)</span></div>
      </div>
      ${breakdown.kinds.length > 0
        ? html`<table><thead><tr><th>Kind</th><th class="num">Credits</th><th>Next expiry</th></tr></thead><tbody>
      ${breakdown.kinds.map((k) => html`<tr><td>${k.kind.toLowerCase()}</td><td class="num">${k.remaining.toLocaleString('en')}</td><td>${k.nextExpiry ? at(k.nextExpiry) : 'never'}</td></tr>`)}
      </tbody></table>`
        : ''}
      ${usageLine(page, at)}</div>
    ${unsettledCharges(page.unsettled, at)}
    <div class="card"><h2>Adjust the balance</h2>
      <form method="post" action="/admin/accounts/${accountId}/adjustments">
        <input type="hidden" name="_csrf" value="${csrfToken}"><input type="hidden" name="key" value="adjust-${randomUUID()}"><input type="hidden" name="form" value="adjust">
        <label>Credits (negative to remove) <input name="amount" value="${refused('adjust')?.amount}" required pattern="-?[0-9]+" size="10"></label>
        <label>Reason (required, the user sees it on the log) <input name="reason" value="${refused('adjust')?.reason}" size="60" required></label>
        <button>Post adjustment</button>
      </form></div>
    ${grantForm(accountId, csrfToken, timeZone, refused('grant'))}
    ${scheduledGrants(page, at, csrfToken)}
    <div class="card"><h2>Daily usage, last 30 days</h2>${usageChart(page.usage)}</div>
    ${activityLog(page, at, csrfToken)}`;
}

/** The account's owner, what kind it is, and links to the organisation, clients and members around it. */
function ownerHeading({ accountId, owner, reachesEveryAccount }: AccountPage): Html {
  const name = (p: Party) => p.name ?? p.externalId;
  const linked = (p: Party, personal = false) =>
    p.accountId && (reachesEveryAccount || !personal) && p.accountId !== accountId ? html`<a href="/admin/accounts/${p.accountId}">${name(p)}</a>` : html`<span>${name(p)}</span>`;
  const kind = { USER: 'user', ORGANISATION: 'organisation', CLIENT: 'client' }[owner.kind];
  const list = (label: string, parties: Html[]) => (parties.length > 0 ? html`<p><strong>${label}:</strong> ${parties.map((p, i) => html`${i > 0 ? ', ' : ''}${p}`)}</p>` : '');
  return html`<h1>${name(owner.owner)} <span class="badge">${kind}</span>${owner.organisation ? html` <span class="muted">client of</span> ${linked(owner.organisation)}` : ''}</h1>
    <p class="muted">${owner.owner.externalId} · account ${accountId}</p>
    ${owner.kind === 'USER' ? list('Member of', owner.memberships.map((m) => html`${linked(m)} (${m.role.toLowerCase()})`)) : ''}
    ${owner.kind === 'ORGANISATION' ? list('Clients', owner.clients.map((c) => linked(c))) : ''}
    ${owner.kind === 'CLIENT' ? list('Other clients of the organisation', owner.clients.filter((c) => c.accountId !== accountId).map((c) => linked(c))) : ''}
    ${owner.kind !== 'USER' ? list(owner.kind === 'CLIENT' ? 'The organisation’s members' : 'Members', owner.members.map((m) => html`${linked(m, true)} (${m.role.toLowerCase()})`)) : ''}`;
}

/**
 * Usage said once: with a plan, this billing period's use against the allocation and what else
 * was added meanwhile (which is what lets use pass the allocation); without one, this month's use.
 */
function usageLine({ breakdown, addedThisPeriod }: AccountPage, at: (date: Date) => string): Html {
  const n = (v: bigint | number) => v.toLocaleString('en');
  const plan = breakdown.plan;
  if (!plan) {
    const u = breakdown.usedThisPeriod;
    return html`<p>No plan. Used this month (${u.period}): ${n(u.used)} credits in ${counted(u.transactions, 'transaction')}.</p>`;
  }
  const besides = addedThisPeriod.reduce((sum, a) => sum + a.amount, 0n);
  return html`<p><strong>${plan.name} plan</strong> (${plan.status.toLowerCase()}): ${n(plan.allocation)} credits a ${plan.period}.
    This period (${at(plan.periodStart)} – ${at(plan.periodEnd)}): used ${n(plan.usedThisPeriod)} against the allocation of ${n(plan.allocation)} (${plan.usageRatePercent}%)${besides > 0n
      ? html`; added besides the plan: ${n(besides)} (${addedThisPeriod.map((a, i) => html`${i > 0 ? ', ' : ''}${a.label.toLowerCase()} ${n(a.amount)}`)})`
      : html`; nothing added besides the plan`}.
    ${plan.nextGrant ? html`Next grant: +${n(plan.nextGrant.credits)} on ${at(plan.nextGrant.at)}.` : html`No more grants after ${at(plan.periodEnd)}.`}</p>`;
}

function counted(count: number, noun: string): string {
  return `${count.toLocaleString('en')} ${count === 1 ? noun : `${noun}s`}`;
}

function unsettledCharges(unsettled: AutoReloadCharge[], at: (date: Date) => string): Html | '' {
  if (unsettled.length === 0) return '';
  return html`<div class="card"><h2>Auto-reload charges of unknown outcome</h2>
    <p class="muted">The payment webhook's answer was lost: the card may have been charged. They count towards the month and are credited once the host confirms them (the settler asks it again).</p>
    <table><thead><tr><th>Charge key</th><th class="num">Credits</th><th>Status</th><th class="num">Attempts</th><th>Last attempt</th><th>Last error</th></tr></thead><tbody>
    ${unsettled.map((c) => html`<tr><td>${c.chargeKey}</td><td class="num">${c.credits.toLocaleString('en')}</td><td>${c.status.toLowerCase()}</td><td class="num">${c.attempts}</td>
      <td>${c.lastAttemptAt ? at(c.lastAttemptAt) : ''}</td><td class="muted">${c.lastError ?? ''}</td></tr>`)}
    </tbody></table></div>`;
}

/** A grant now or on a date (the credits land then), optionally expiring; times typed in the viewer's zone. */
function grantForm(accountId: string, csrfToken: string, timeZone: string, form: Record<string, string> | undefined): Html {
  const bucket = form?.bucket ?? 'BONUS';
  return html`<div class="card"><h2>Grant credits</h2>
      <form method="post" action="/admin/accounts/${accountId}/grants">
        <input type="hidden" name="_csrf" value="${csrfToken}"><input type="hidden" name="key" value="grant-${randomUUID()}"><input type="hidden" name="form" value="grant">
        <label>Kind <select name="bucket">${(['BONUS', 'PROMO', 'REWARD'] as const).map((b) => html`<option value="${b}"${b === bucket ? html` selected` : ''}>${b.toLowerCase()}</option>`)}</select></label>
        <label>Credits <input name="amount" value="${form?.amount}" required pattern="[0-9]+" size="10"></label>
        <label>Reason (required, the user sees it on the log) <input name="reason" value="${form?.reason}" size="40" required></label>
        <label>Effective at (${timeZone}; empty: now) <input type="datetime-local" name="effectiveAt" value="${form?.effectiveAt}"></label>
        <label>Expires at (${timeZone}; empty: never) <input type="datetime-local" name="expiresAt" value="${form?.expiresAt}"></label>
        <button>Grant</button>
      </form></div>`;
}

function scheduledCredits(s: ScheduledWriteView): string {
  return `${s.amount.toLocaleString('en')} ${s.bucket.toLowerCase()} credits`;
}

/** Dated grants and purchases still to land, each with a Cancel form (reason required, audited). */
function scheduledGrants({ accountId, scheduled }: AccountPage, at: (date: Date) => string, csrfToken: string): Html | '' {
  if (scheduled.length === 0) return '';
  return html`<div class="card"><h2>Scheduled to land</h2>
    <table><thead><tr><th>Due</th><th class="num">Credits</th><th>Kind</th><th>Expires</th><th>Scheduled by</th><th>Reason</th><th></th></tr></thead><tbody>
    ${scheduled.map((s) => html`<tr><td>${at(s.effectiveAt)}</td><td class="num">${credits(s.amount)}</td><td>${s.bucket.toLowerCase()}</td>
      <td>${s.expiresAt ? at(s.expiresAt) : 'never'}</td><td>${actorName(s.scheduledBy)}<br><span class="muted">${at(s.createdAt)}</span></td><td>${s.reason ?? ''}</td>
      <td><details><summary>Cancel</summary><form method="post" action="/admin/accounts/${accountId}/cancellations">
        <input type="hidden" name="_csrf" value="${csrfToken}"><input type="hidden" name="scheduledId" value="${s.id}">
        <label>Reason <input name="reason" required size="24"></label> <button>Cancel it</button></form></details></td></tr>`)}
    </tbody></table></div>`;
}

/** Voiding a grant or purchase: what is left of it leaves, with the reason staff give (audited). */
function voidForm(accountId: string, entryId: string, csrfToken: string): Html {
  return html`<details><summary>Void</summary><form method="post" action="/admin/accounts/${accountId}/voids">
    <input type="hidden" name="_csrf" value="${csrfToken}"><input type="hidden" name="key" value="void-${randomUUID()}"><input type="hidden" name="entryId" value="${entryId}">
    <label>Reason <input name="reason" required size="24"></label> <button>Void what is left</button></form></details>`;
}

function activityLog({ accountId, filter, activity }: AccountPage, at: (date: Date) => string, csrfToken: string): Html {
  const link = (params: Record<string, string>) => `/admin/accounts/${accountId}?${new URLSearchParams(params).toString()}`;
  return html`<div class="card"><h2>Credit activity</h2>
    <p class="segments">${activityFilters.map(([f, label]) => html`<a class="${f === filter ? 'on' : ''}" href="${link({ filter: f })}">${label}</a>`)}</p>
    <table><thead><tr><th>Date</th><th>Activity</th><th>Source</th><th>By</th><th class="num">Credits</th><th class="num">Balance</th><th></th></tr></thead><tbody>
    ${activity.rows.map(
      (r) => html`<tr><td>${at(r.startedAt)}${r.count > 1 ? html`<br><span class="muted">to ${at(r.endedAt)}</span>` : ''}${r.occurredAt ? html`<br><span class="muted">occurred ${at(r.occurredAt)}</span>` : ''}</td>
        <td>${r.category ?? r.label}${r.count > 1 ? html` <a class="muted" href="/admin/accounts/${accountId}/groups/${r.seq.toString()}">×${r.count}</a>` : ''}<br><span class="muted">${r.description}${r.note ? html` — “${r.note}”` : ''}</span></td>
        <td>${r.source.url ? html`<a href="${r.source.url}" rel="noreferrer">${r.source.label ?? r.source.id ?? r.source.kind}</a>` : (r.source.label ?? r.source.id ?? '')}</td>
        <td>${actorName(r.actor)}</td>
        <td class="num">${r.originalAmount !== null ? html`<s>${r.originalAmount.toLocaleString('en')}</s> <span class="badge">${r.discountPercent ?? ''}% off</span> ` : ''}${credits(r.amount)}</td>
        <td class="num">${r.balanceAfter.toLocaleString('en')}</td>
        <td>${entryTypes[r.type].class === 'addition' ? voidForm(accountId, r.entryId, csrfToken) : ''}</td></tr>`,
    )}
    </tbody></table>
    <p>${activity.showing.total === 0 ? 'Nothing yet.' : `Showing ${activity.showing.from}–${activity.showing.to} of ${activity.showing.total}`}
      · <a href="/admin/accounts/${accountId}/activity.csv?filter=${filter}">Download CSV</a>
      ${activity.previous ? html` · <a href="${link({ filter, cursor: activity.previous })}">Previous</a>` : ''}
      ${activity.next ? html` · <a href="${link({ filter, cursor: activity.next })}">Next</a>` : ''}</p></div>`;
}

/** Who triggered an entry (or scheduled one), as the usage table names it: the member or staff member, else System. */
function actorName(actor: { kind: string; id: string | null }): string {
  if (actor.kind === 'USER' && actor.id) return actor.id;
  if (actor.kind === 'STAFF' && actor.id) return `${actor.id} (staff)`;
  return 'System';
}
