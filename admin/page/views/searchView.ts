import type { AccountSummary } from '../../../core/accounts/searchAccounts.js';
import { html, type Html } from '../html.js';

/** The start page: the search box and the accounts that match. */
export function searchView(search: string, found: AccountSummary[]): Html {
  return html`<h1>Find an account</h1>
    <form method="get" action="/admin"><input name="search" value="${search}" placeholder="account id, external id or name" size="40" autofocus> <button>Search</button></form>
    ${search
      ? html`<table><thead><tr><th>Owner</th><th>Kind</th><th>Organisation</th><th class="num">Balance</th><th class="num">Outstanding</th></tr></thead><tbody>
        ${found.map((a) => html`<tr><td><a href="/admin/accounts/${a.accountId}">${a.name ?? a.externalId}</a> <span class="muted">${a.externalId}</span></td><td>${a.ownerKind.toLowerCase()}</td><td>${a.organisation}</td><td class="num">${a.balance.toLocaleString('en')}</td><td class="num">${a.outstanding.toLocaleString('en')}</td></tr>`)}
        </tbody></table>${found.length === 0 ? html`<p>No account matches “${search}”.</p>` : ''}`
      : ''}`;
}
