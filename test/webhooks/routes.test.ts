import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../core/access/createApiToken.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { purchase } from '../../core/ledger/purchase.js';
import { deliverDueWebhooks } from '../../core/webhooks/dispatchWebhooks.js';
import { webhookSettings } from '../../core/webhooks/webhookSettings.js';
import { client, useApi } from '../support/api.js';
import { key, service, useFreshLedger } from '../support/scenario.js';
import { until, WebhookReceiver } from './webhookReceiver.js';

/**
 * The endpoints over HTTP: the secret once, an organisation's token managing its own endpoints
 * only (another's look like none at all), a global endpoint for unrestricted tokens only, and each
 * endpoint hearing only the accounts it is for.
 */
describe('webhook endpoints over HTTP (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const api = useApi(ctx);
  const run = randomUUID().slice(0, 8);
  const [northwind, lumen] = [`northwind-${run}`, `lumen-${run}`];
  const receivers = { northwind: new WebhookReceiver(), global: new WebhookReceiver() };
  const tokens = { northwind: '', lumen: '' };
  const settings = webhookSettings({ WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WEBHOOK_RETRY_BASE_MS: '1', WEBHOOK_RETRY_MAX_MS: '2' });
  const accounts = { northwind: '', lumen: '' };

  beforeAll(async () => {
    for (const organisation of [northwind, lumen]) await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: organisation, name: organisation } });
    for (const [name, organisation] of [['northwind', northwind], ['lumen', lumen]] as const) {
      tokens[name] = (await createApiToken(ctx, { name: `${name}-host`, scopes: ['SERVICE'], organisationExternalId: organisation, actor: { kind: 'STAFF', id: 'setup' } })).secret;
      accounts[name] = (await openAccount(ctx, { owner: { kind: 'CLIENT', organisationExternalId: organisation, externalId: `c-${run}`, name: 'Client' } })).accountId;
    }
    for (const receiver of Object.values(receivers)) await receiver.up();
  });
  afterAll(async () => {
    delete process.env.WEBHOOK_ALLOWED_NETWORKS;
    for (const receiver of Object.values(receivers)) await receiver.down();
  });

  it('refuses a loopback URL unless the operator allows loopback', async () => {
    const reply = await client(api.baseUrl, tokens.northwind)('POST', '/v1/webhooks/endpoints', {
      key: key(), body: { url: receivers.northwind.url, eventTypes: ['entry.created'], organisationExternalId: northwind },
    });
    expect([reply.status, reply.body.error.code]).toEqual([400, 'WEBHOOK_URL_REFUSED']);
  });

  it('an organisation’s token registers, lists and manages its own endpoints; another organisation’s are not there for it', async () => {
    process.env.WEBHOOK_ALLOWED_NETWORKS = '127.0.0.0/8';
    const asNorthwind = client(api.baseUrl, tokens.northwind);
    const asLumen = client(api.baseUrl, tokens.lumen);
    const asService = client(api.baseUrl, api.service);

    const created = await asNorthwind('POST', '/v1/webhooks/endpoints', { key: key(), body: { url: receivers.northwind.url, eventTypes: ['entry.created'], organisationExternalId: northwind } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ url: receivers.northwind.url, eventTypes: ['entry.created'], enabled: true, createdBy: 'northwind-host' });
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{44}$/);
    receivers.northwind.secret = created.body.secret;
    const endpointId: string = created.body.id;

    // A global endpoint needs an unrestricted token; another organisation's is refused.
    expect((await asNorthwind('POST', '/v1/webhooks/endpoints', { key: key(), body: { url: receivers.global.url, eventTypes: ['entry.created'] } })).body.error.code).toBe('FORBIDDEN');
    expect((await asNorthwind('POST', '/v1/webhooks/endpoints', { key: key(), body: { url: receivers.global.url, eventTypes: ['entry.created'], organisationExternalId: lumen } })).body.error.code).toBe('FORBIDDEN');
    const global = await asService('POST', '/v1/webhooks/endpoints', { key: key(), body: { url: receivers.global.url, eventTypes: ['entry.created'] } });
    expect(global.status).toBe(201);
    receivers.global.secret = global.body.secret;

    // The secret is never listed; each sees its own.
    const listed = await asNorthwind('GET', '/v1/webhooks/endpoints');
    expect(listed.body.endpoints.map((e: { id: string }) => e.id)).toEqual([endpointId]);
    expect(listed.text).not.toContain('whsec_');
    expect((await asLumen('GET', '/v1/webhooks/endpoints')).body.endpoints).toEqual([]);
    expect((await asService('GET', '/v1/webhooks/endpoints')).body.endpoints.map((e: { id: string }) => e.id)).toEqual([endpointId, global.body.id]);
    for (const [method, path, body] of [
      ['POST', `/v1/webhooks/endpoints/${endpointId}/enabled`, { enabled: false }],
      ['GET', `/v1/webhooks/endpoints/${endpointId}/deliveries`, undefined],
      ['POST', `/v1/webhooks/endpoints/${global.body.id}/enabled`, { enabled: false }],
    ] as const) {
      expect((await asLumen(method, path, { ...(body && { key: key(), body }) })).body.error.code).toBe('WEBHOOK_ENDPOINT_NOT_FOUND');
    }

    // Each endpoint hears the accounts it is for: Northwind's its own client's; the global one both.
    await purchase(ctx, { accountId: accounts.northwind, idempotencyKey: key(), actor: service, amount: 30n });
    await purchase(ctx, { accountId: accounts.lumen, idempotencyKey: key(), actor: service, amount: 40n });
    await until(() => receivers.northwind.events().length === 1 && receivers.global.events().length === 2, () => deliverDueWebhooks(ctx, settings));
    expect(receivers.northwind.events().map((e) => e.data.accountId)).toEqual([accounts.northwind]);
    expect(receivers.global.events().map((e) => e.data.accountId).sort()).toEqual([accounts.northwind, accounts.lumen].sort());

    // Its deliveries, with status and response code; one replayed goes again with the same webhook-id.
    const deliveries = await asNorthwind('GET', `/v1/webhooks/endpoints/${endpointId}/deliveries`);
    expect(deliveries.body.deliveries).toMatchObject([{ type: 'entry.created', accountId: accounts.northwind, status: 'DELIVERED', attempts: 1, lastStatusCode: 204 }]);
    const eventId: string = deliveries.body.deliveries[0].eventId;
    expect((await asLumen('POST', `/v1/webhooks/endpoints/${endpointId}/deliveries/${eventId}/replay`, { key: key(), body: {} })).body.error.code).toBe('WEBHOOK_ENDPOINT_NOT_FOUND');
    const replay = await asNorthwind('POST', `/v1/webhooks/endpoints/${endpointId}/deliveries/${eventId}/replay`, { key: key(), body: {} });
    expect(replay.body).toEqual({ eventId, status: 'PENDING' });
    await until(() => receivers.northwind.received.length === 2, () => deliverDueWebhooks(ctx, settings));
    expect(receivers.northwind.received.map((r) => r.id)).toEqual([eventId, eventId]);

    // Disabled: nothing more is queued for it.
    expect((await asNorthwind('POST', `/v1/webhooks/endpoints/${endpointId}/enabled`, { key: key(), body: { enabled: false } })).body).toMatchObject({ enabled: false });
    await purchase(ctx, { accountId: accounts.northwind, idempotencyKey: key(), actor: service, amount: 1n });
    expect((await asNorthwind('GET', `/v1/webhooks/endpoints/${endpointId}/deliveries`)).body.deliveries).toHaveLength(1);
  });
});
