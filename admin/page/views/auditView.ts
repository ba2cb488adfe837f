import type { AuditRow } from '../../../core/audit/listAudit.js';
import { html, type Html, when } from '../html.js';

export type AuditFilters = { accountId?: string; actorId?: string; from?: string; to?: string };

/** The audit log with its filters, newest first, and a link to older rows. */
export function auditView(filters: AuditFilters, log: { rows: AuditRow[]; next: string | null }, timeZone: string): Html {
  return html`<h1>Audit log</h1>
    <form method="get"><input name="accountId" value="${filters.accountId}" placeholder="account id" size="38"> <input name="actorId" value="${filters.actorId}" placeholder="staff member">
      <label style="display:inline">from <input name="from" type="date" value="${filters.from}"></label> <label style="display:inline">to <input name="to" type="date" value="${filters.to}"></label> <button>Filter</button></form>
    <table><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Outcome</th><th>Account</th><th>Reason</th><th>From</th></tr></thead><tbody>
    ${log.rows.map(
      (r) => html`<tr><td>${when(r.at, timeZone)}</td><td>${r.actor.id ?? r.actor.kind.toLowerCase()}</td><td>${r.action}</td><td>${r.outcome}</td>
        <td>${r.accountId ? html`<a href="/admin/accounts/${r.accountId}">${r.accountId.slice(0, 8)}</a>` : ''}</td><td>${r.reason}</td>
        <td class="muted">${String(r.origin?.transport ?? '')} ${String(r.origin?.ip ?? '')}</td></tr>`,
    )}
    </tbody></table>
    ${log.next ? html`<p><a href="?${new URLSearchParams({ ...filters, cursor: log.next }).toString()}">Older</a></p>` : ''}`;
}
