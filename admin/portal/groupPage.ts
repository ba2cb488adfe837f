import type { PortalSession } from '../../core/access/portalSession.js';
import type { CoreContext } from '../../core/context.js';
import { getActivityGroup } from '../../core/reports/activityGroup.js';
import { html } from '../page/html.js';
import { sourceLink, userName } from './creditsPage.js';
import { formatsFor } from './format.js';
import { layout } from './layout.js';

/** A grouped usage row opened into the entries it stands for. */
export async function groupPage(ctx: CoreContext, session: PortalSession, seq: string): Promise<string> {
  const entries = await getActivityGroup(ctx, { accountId: session.accountId, seq });
  const f = formatsFor(session.locale, session.timeZone);
  const total = entries.reduce((sum, e) => sum + e.amount, 0n);
  return layout(
    'Grouped usage',
    html`<section class="card"><h2>${f.number(entries.length)} entries in one activity row: ${f.signed(total)} credits</h2>
<p><a href="/portal#log">Back to credit activity</a></p>
<table class="rows"><thead><tr><th>Date</th><th>Activity</th><th>Source</th><th>User</th><th class="num">Credits</th><th class="num">Balance</th></tr></thead><tbody>
${entries.map(
  (e) => html`<tr><td data-label="Date">${f.at(e.createdAt)}</td>
<td data-label="Activity"><div>${e.category ?? e.label}<br><span class="muted">${e.description}${e.quantity ? ` ×${f.number(e.quantity)}` : ''}</span></div></td>
<td data-label="Source">${sourceLink(e)}</td><td data-label="User">${userName(e.actor)}</td>
<td data-label="Credits" class="num"><div>${e.originalAmount !== null ? html`<s>${f.signed(e.originalAmount)}</s> ` : ''}<span class="${e.amount < 0n ? 'minus' : 'plus'}">${f.signed(e.amount)}</span></div></td>
<td data-label="Balance" class="num">${f.number(e.balanceAfter)}</td></tr>`,
)}
</tbody></table>
<p class="muted">${f.zoneLabel}.</p></section>`,
    session,
    'credits',
  );
}
