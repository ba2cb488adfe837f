import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { unrestricted } from '../../core/access/accountReach.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { purchase } from '../../core/ledger/purchase.js';
import { deliverDueWebhooks } from '../../core/webhooks/dispatchWebhooks.js';
import { listWebhookDeliveries } from '../../core/webhooks/listWebhookDeliveries.js';
import { registerWebhookEndpoint } from '../../core/webhooks/registerWebhookEndpoint.js';
import { webhookSettings } from '../../core/webhooks/webhookSettings.js';
import { useApi } from '../support/api.js';
import { key, service, useFreshLedger } from '../support/scenario.js';
import { until, WebhookReceiver } from './webhookReceiver.js';

describe('the admin page’s webhooks (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const api = useApi(ctx);
  const receiver = new WebhookReceiver();
  afterAll(() => receiver.down());
  const settings = webhookSettings({ WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8' });

  it('lists an endpoint’s deliveries with status and response code, and replays one', async () => {
    await receiver.up();
    const endpoint = await registerWebhookEndpoint(ctx, { url: receiver.url, eventTypes: ['entry.created'], createdBy: 'test' }, unrestricted, settings);
    receiver.secret = endpoint.secret;
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `u-${randomUUID()}` } });
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 10n });
    await until(() => receiver.events().length === 1, () => deliverDueWebhooks(ctx, settings));

    const signIn = await fetch(`${api.baseUrl}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: api.admin }).toString(),
      redirect: 'manual',
    });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const page = await (await fetch(`${api.baseUrl}/admin/webhooks?endpoint=${endpoint.id}`, { headers: { cookie } })).text();
    expect(page).toContain(receiver.url);
    expect(page).toMatch(/<td>entry\.created<\/td>.*<td>DELIVERED<\/td><td>1<\/td><td>204<\/td>/s);

    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const eventId = receiver.events()[0]!.id;
    const replay = await fetch(`${api.baseUrl}/admin/webhooks/${endpoint.id}/deliveries/${eventId}/replay`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
      redirect: 'manual',
    });
    expect([replay.status, replay.headers.get('location')]).toEqual([303, `/admin/webhooks?endpoint=${endpoint.id}`]);
    expect((await listWebhookDeliveries(ctx, { endpointId: endpoint.id }, unrestricted)).deliveries).toMatchObject([{ eventId, status: 'PENDING' }]);
    await until(() => receiver.received.length === 2, () => deliverDueWebhooks(ctx, settings));
    expect(receiver.received.map((r) => r.id)).toEqual([eventId, eventId]);
  });
});
