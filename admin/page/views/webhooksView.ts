import type { WebhookDeliveryView } from '../../../core/webhooks/listWebhookDeliveries.js';
import type { WebhookEndpointView } from '../../../core/webhooks/webhookEndpointView.js';
import { html, type Html, when } from '../html.js';

/**
 * The webhook endpoints staff may manage, and the chosen one's deliveries with their status and
 * last response code; each delivery can be sent again (same webhook-id).
 */
export function webhooksView(
  endpoints: WebhookEndpointView[],
  chosen: { endpoint: WebhookEndpointView; deliveries: WebhookDeliveryView[] } | undefined,
  csrfToken: string,
  timeZone: string,
): Html {
  return html`<h1>Webhooks</h1>
    <table><thead><tr><th>Endpoint</th><th>Events</th><th>Organisation</th><th>State</th><th></th></tr></thead><tbody>
    ${endpoints.map(
      (e) => html`<tr><td>${e.url}</td><td>${e.eventTypes.join(', ')}</td><td class="muted">${e.organisationId ?? 'global'}</td>
        <td>${e.enabled ? (e.failingSince ? html`failing since ${when(e.failingSince, timeZone)}` : 'enabled') : 'disabled'}</td>
        <td><a href="/admin/webhooks?endpoint=${e.id}">Deliveries</a></td></tr>`,
    )}
    </tbody></table>
    ${endpoints.length ? '' : html`<p class="muted">No endpoints yet: the host product registers them with POST /v1/webhooks/endpoints.</p>`}
    ${chosen ? deliveriesTable(chosen.endpoint, chosen.deliveries, csrfToken, timeZone) : ''}`;
}

function deliveriesTable(endpoint: WebhookEndpointView, deliveries: WebhookDeliveryView[], csrfToken: string, timeZone: string): Html {
  return html`<h2>Deliveries to ${endpoint.url}</h2>
    <table><thead><tr><th>Event</th><th>Type</th><th>Account</th><th>Status</th><th>Attempts</th><th>Last code</th><th>Last error</th><th>Next attempt</th><th></th></tr></thead><tbody>
    ${deliveries.map(
      (d) => html`<tr><td class="muted">${d.eventId.slice(0, 8)}</td><td>${d.type}</td><td><a href="/admin/accounts/${d.accountId}">${d.accountId.slice(0, 8)}</a></td>
        <td>${d.status}</td><td>${String(d.attempts)}</td><td>${d.lastStatusCode === null ? '' : String(d.lastStatusCode)}</td><td>${d.lastError}</td>
        <td>${d.nextAttemptAt ? when(d.nextAttemptAt, timeZone) : ''}</td>
        <td><form method="post" action="/admin/webhooks/${endpoint.id}/deliveries/${d.eventId}/replay"><input type="hidden" name="_csrf" value="${csrfToken}"><button>Replay</button></form></td></tr>`,
    )}
    </tbody></table>`;
}
