import type { EntryView } from '../../../core/ledger/entryView.js';
import { credits, html, type Html, when } from '../html.js';

/** The entries behind one grouped activity row. */
export function groupView(accountId: string, entries: EntryView[], timeZone: string): Html {
  return html`<h1>${entries.length} ${entries.length === 1 ? 'entry' : 'entries'} in one activity row</h1>
    <p><a href="/admin/accounts/${accountId}">Back to the account</a></p>
    <table><thead><tr><th>Date</th><th>Activity</th><th>Source</th><th class="num">Credits</th><th class="num">Balance</th><th>Entry</th></tr></thead><tbody>
    ${entries.map((e) => html`<tr><td>${when(e.createdAt, timeZone)}</td><td>${e.category ?? e.label}<br><span class="muted">${e.description}${e.quantity ? ` ×${e.quantity}` : ''}</span></td>
      <td>${e.source.label ?? e.source.id ?? ''}</td><td class="num">${credits(e.amount)}</td><td class="num">${e.balanceAfter.toLocaleString('en')}</td><td class="muted">${e.id}</td></tr>`)}
    </tbody></table>`;
}
