import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { unrestricted } from '../../core/access/accountReach.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import type { CoreContext } from '../../core/context.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { startWebhookDispatcher } from '../../core/webhooks/dispatchWebhooks.js';
import { listWebhookDeliveries } from '../../core/webhooks/listWebhookDeliveries.js';
import { registerWebhookEndpoint } from '../../core/webhooks/registerWebhookEndpoint.js';
import { webhookSettings } from '../../core/webhooks/webhookSettings.js';
import { startCreditkeeper } from '../reliability/creditkeeperProcess.js';
import { anotherProcess, databaseUrl } from '../support/databases.js';
import { freePort } from '../support/freePort.js';
import { key, service, useFreshLedger } from '../support/scenario.js';
import { until, WebhookReceiver } from './webhookReceiver.js';

const pause = () => new Promise((resolve) => setTimeout(resolve, 50));

/** Several processes on one PostgreSQL: they share the deliveries and never send one attempt twice at once. */
describe('webhook dispatchers in several processes (postgres)', () => {
  const ctx = useFreshLedger('postgres');
  const receiver = new WebhookReceiver();
  afterAll(() => receiver.down());

  async function endpointFor(settings = webhookSettings({ WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8' })) {
    const organisation = `org-${randomUUID()}`;
    await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: organisation, name: 'Lumen Events' } });
    const endpoint = await registerWebhookEndpoint(ctx, { url: receiver.url, eventTypes: ['entry.created'], organisationExternalId: organisation, createdBy: 'test' }, unrestricted, settings);
    receiver.secret = endpoint.secret;
    const client = async () => (await openAccount(ctx, { owner: { kind: 'CLIENT', organisationExternalId: organisation, externalId: `c-${randomUUID()}`, name: 'Client' } })).accountId;
    const deliveries = async () => (await listWebhookDeliveries(ctx, { endpointId: endpoint.id, limit: 200 }, unrestricted)).deliveries;
    return { endpoint, client, deliveries };
  }

  it('a Creditkeeper process SIGKILLed in the middle of an attempt: the restarted one sends the event again with the same webhook-id', async () => {
    await receiver.up();
    const { client, deliveries } = await endpointFor();
    receiver.answer = (_r, earlier) => (earlier === 0 ? 'hang' : 'ok');
    Object.assign(process.env, {
      WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WEBHOOK_LEASE_MS: '3000', WEBHOOK_TIMEOUT_MS: '1500', WEBHOOK_POLL_MS: '50', RENEWAL_SCHEDULE: 'off',
    });
    const url = await databaseUrl(ctx);
    const port = await freePort();
    let creditkeeper = startCreditkeeper(url, port);
    try {
      await creditkeeper.ready();
      const acme = await client();
      await purchase(ctx, { accountId: acme, idempotencyKey: key(), actor: service, amount: 25n });
      await until(() => receiver.received.length === 1, pause, 400);
      await creditkeeper.kill('SIGKILL'); // while the receiver holds the request open
      expect(await deliveries()).toMatchObject([{ status: 'PENDING', attempts: 1, deliveredAt: null }]);

      creditkeeper = startCreditkeeper(url, port);
      await creditkeeper.ready();
      await until(async () => (await deliveries())[0]!.status === 'DELIVERED', pause, 400);
      expect(receiver.received.map((r) => r.id)).toEqual([receiver.received[0]!.id, receiver.received[0]!.id]);
      expect(receiver.received.every((r) => !('error' in r.verified))).toBe(true);
      expect((await deliveries())[0]).toMatchObject({ attempts: 2, lastStatusCode: 204 });
    } finally {
      await creditkeeper.kill('SIGKILL');
    }
  });

  it('two dispatchers on one PostgreSQL deliver 240 events each exactly once, never one twice at the same moment', async () => {
    receiver.received.length = 0;
    receiver.mostAtOnceForOneId = 0;
    receiver.answer = () => ({ slowMs: 5 }); // attempts overlap between the two
    const settings = webhookSettings({ WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WEBHOOK_POLL_MS: '20', WEBHOOK_CONCURRENCY: '8' });
    const { client } = await endpointFor(settings);
    const accounts = await Promise.all(Array.from({ length: 40 }, client));
    const other: CoreContext = await anotherProcess(ctx);
    const dispatchers = [startWebhookDispatcher(ctx, settings), startWebhookDispatcher(other, settings)];
    try {
      await Promise.all(
        accounts.map(async (accountId) => {
          await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
          for (let i = 0; i < 5; i++) await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 1 } });
        }),
      );
      await until(() => receiver.received.length >= 240, pause, 1_200);
    } finally {
      await Promise.all(dispatchers.map((d) => d.stop()));
      await other.db.close();
    }
    const ids = receiver.received.map((r) => r.id);
    expect(ids).toHaveLength(240);
    expect(new Set(ids).size).toBe(240);
    expect(receiver.mostAtOnceForOneId).toBe(1);
    for (const accountId of accounts) {
      expect(receiver.events().filter((e) => e.data.accountId === accountId).map((e) => e.data.seq)).toEqual(['1', '2', '3', '4', '5', '6']);
    }
  });
});
