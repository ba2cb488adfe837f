import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { unrestricted } from '../../core/access/accountReach.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import type { CoreContext } from '../../core/context.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { grant } from '../../core/ledger/grant.js';
import { reconcileDeposit } from '../../core/ledger/reconcileDeposit.js';
import { deliverDueWebhooks } from '../../core/webhooks/dispatchWebhooks.js';
import { listWebhookDeliveries } from '../../core/webhooks/listWebhookDeliveries.js';
import { queueExpiringCredits } from '../../core/webhooks/queueExpiringCredits.js';
import { registerWebhookEndpoint } from '../../core/webhooks/registerWebhookEndpoint.js';
import { replayWebhookDelivery } from '../../core/webhooks/replayWebhookDelivery.js';
import { setWebhookEndpointEnabled } from '../../core/webhooks/setWebhookEndpointEnabled.js';
import type { WebhookEventType } from '../../core/webhooks/webhookEventTypes.js';
import { webhookSettings } from '../../core/webhooks/webhookSettings.js';
import { engines } from '../support/databases.js';
import { expectError, inDays, key, service, useFreshLedger } from '../support/scenario.js';
import { until, WebhookReceiver } from './webhookReceiver.js';

/** Loopback allowed (the tests' receivers), retries a millisecond or two apart, attempts cut at 300 ms. */
const settings = webhookSettings({
  WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8',
  WEBHOOK_RETRY_BASE_MS: '1',
  WEBHOOK_RETRY_MAX_MS: '2',
  WEBHOOK_TIMEOUT_MS: '300',
  WEBHOOK_LEASE_MS: '1500',
});

describe.each(engines)('webhooks out (%s)', (engine) => {
  const ctx = useFreshLedger(engine);
  const receivers: WebhookReceiver[] = [];
  afterAll(async () => {
    for (const receiver of receivers) await receiver.down();
  });
  const round = () => deliverDueWebhooks(ctx, settings);

  /** An organisation with an endpoint of its own on a fresh receiver, and a client account of it with `credits`. */
  async function organisationWithEndpoint(eventTypes: WebhookEventType[] = ['entry.created']) {
    const organisation = `org-${randomUUID()}`;
    await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: organisation, name: 'Northwind' } });
    const receiver = new WebhookReceiver();
    receivers.push(receiver);
    await receiver.up();
    const endpoint = await registerWebhookEndpoint(ctx, { url: receiver.url, eventTypes, organisationExternalId: organisation, createdBy: 'test' }, unrestricted, settings);
    receiver.secret = endpoint.secret;
    const client = async (credits: bigint) => {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'CLIENT', organisationExternalId: organisation, externalId: `c-${randomUUID()}`, name: 'Acme' } });
      if (credits) await purchase(ctx, { accountId, idempotencyKey: key('buy'), actor: service, amount: credits });
      return accountId;
    };
    const deliveries = async () => (await listWebhookDeliveries(ctx, { endpointId: endpoint.id, limit: 200 }, unrestricted)).deliveries;
    return { receiver, endpoint, client, deliveries, organisation };
  }

  const image = (accountId: string, quantity = 1) => spend(ctx, { accountId, idempotencyKey: key('img'), actor: service, charge: { action: 'image', quantity } });

  it('an account’s entries arrive signed, in the order written, each with its amount, balance after, source and actor', async () => {
    const { receiver, client } = await organisationWithEndpoint();
    const acme = await client(100n);
    for (let i = 0; i < 5; i++) await image(acme); // 100 → 97 → … → 85
    await until(() => receiver.events().length === 6, round);

    const events = receiver.events();
    expect(receiver.received.every((r) => !('error' in r.verified))).toBe(true);
    expect(events.map((e) => e.type)).toEqual(Array(6).fill('entry.created'));
    expect(events.map((e) => [e.data.type, e.data.amount, e.data.balanceAfter])).toEqual([
      ['PURCHASE', '100', '100'], ['USAGE', '-3', '97'], ['USAGE', '-3', '94'], ['USAGE', '-3', '91'], ['USAGE', '-3', '88'], ['USAGE', '-3', '85'],
    ]);
    expect(events[1]!.data).toMatchObject({ accountId: acme, seq: '2', category: 'Image generation', actor: { kind: 'SERVICE', id: null } });
    // The webhook-id is the event's id, and the body says what and when.
    expect(new Set(events.map((e) => e.id)).size).toBe(6);
  });

  it('usage reported late says when it happened: occurredAt two days back on the late one, null on the one that happened as written', async () => {
    const { receiver, client } = await organisationWithEndpoint();
    const acme = await client(100n);
    await ctx.db.sql.query(`UPDATE accounts SET created_at = now() - interval '10 days' WHERE id = $1::uuid`, [acme]);
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await spend(ctx, { accountId: acme, idempotencyKey: key('late'), actor: service, charge: { action: 'image', quantity: 1 }, occurredAt: twoDaysAgo });
    await image(acme);
    await until(() => receiver.events().length === 3, round);
    const usage = receiver.events().filter((e) => e.data.type === 'USAGE');
    expect(usage.map((e) => [e.data.amount, e.data.occurredAt === null ? null : new Date(e.data.occurredAt as string).getTime()])).toEqual([
      ['-3', twoDaysAgo.getTime()],
      ['-3', null],
    ]);
  });

  it('balance.low fires once per crossing of each level and again only after the balance rose back to it; balance.depleted at 0', async () => {
    const { receiver, client } = await organisationWithEndpoint(['balance.low', 'balance.depleted']);
    const acme = await client(60n);
    await ctx.db.sql.query(`INSERT INTO balance_thresholds (account_id, level) VALUES ($1, 50), ($1, 10)`, [acme]);
    await spend(ctx, { accountId: acme, idempotencyKey: key(), actor: service, charge: { amount: 12n, category: 'Chat', description: 'Turns' } }); // 60 → 48: below 50
    await image(acme); // 48 → 45: still below 50, nothing
    await spend(ctx, { accountId: acme, idempotencyKey: key(), actor: service, charge: { amount: 36n, category: 'Chat', description: 'Turns' } }); // 45 → 9: below 10
    await purchase(ctx, { accountId: acme, idempotencyKey: key(), actor: service, amount: 41n }); // 9 → 50: both re-armed
    await spend(ctx, { accountId: acme, idempotencyKey: key(), actor: service, charge: { amount: 50n, category: 'Chat', description: 'Turns' } }); // 50 → 0: both, and depleted
    await until(() => receiver.events().length === 5, round);
    expect(receiver.events().map((e) => [e.type, e.data.level ?? null, e.data.balance])).toEqual([
      ['balance.low', '50', '48'],
      ['balance.low', '10', '9'],
      ['balance.low', '50', '0'],
      ['balance.low', '10', '0'],
      ['balance.depleted', null, '0'],
    ]);
  });

  it('a receiver down for a while loses nothing: once it is back every event arrives, each account’s in order', async () => {
    const { receiver, client, deliveries } = await organisationWithEndpoint();
    const [acme, globex] = [await client(1_000n), await client(1_000n)];
    await receiver.down();
    for (let i = 0; i < 10; i++) {
      await image(acme);
      await image(globex, 2);
    }
    for (let i = 0; i < 20; i++) await round(); // every attempt refused meanwhile
    expect(receiver.received).toEqual([]);
    expect((await deliveries()).filter((d) => d.status === 'RETRYING').every((d) => d.lastError !== null && d.lastStatusCode === null)).toBe(true);

    await receiver.up();
    await until(() => receiver.events().length === 22, round);
    for (const accountId of [acme, globex]) {
      const seqs = receiver.events().filter((e) => e.data.accountId === accountId).map((e) => Number(e.data.seq));
      expect(seqs).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    }
    expect((await deliveries()).every((d) => d.status === 'DELIVERED')).toBe(true);
  });

  it('500s are retried until one attempt is answered 2xx; the delivery shows its attempts and last code', async () => {
    const { receiver, client, deliveries } = await organisationWithEndpoint();
    receiver.answer = (_r, earlier) => (earlier < 3 ? 'fail' : 'ok');
    const acme = await client(10n);
    await round();
    expect(await deliveries()).toMatchObject([{ status: 'RETRYING', attempts: 1, lastStatusCode: 500, lastError: 'HTTP 500' }]);
    await until(() => receiver.events().length === 1, round);
    await until(async () => (await deliveries())[0]!.status === 'DELIVERED', round);
    expect(await deliveries()).toMatchObject([{ accountId: acme, status: 'DELIVERED', attempts: 4, lastStatusCode: 204, lastError: null }]);
    // Every attempt carried the same webhook-id, so the receiver can tell they are one event.
    expect(new Set(receiver.received.map((r) => r.id)).size).toBe(1);
    expect(receiver.received).toHaveLength(4);
  });

  it('a receiver slower than the time limit gets the event again, with the same webhook-id, until it answers in time', async () => {
    const { receiver, client, deliveries } = await organisationWithEndpoint();
    receiver.answer = (_r, earlier) => (earlier === 0 ? { slowMs: 1_000 } : 'ok');
    await client(10n);
    await until(async () => (await deliveries())[0]?.status === 'DELIVERED', round);
    expect((await deliveries())[0]).toMatchObject({ attempts: 2, lastStatusCode: 204 });
    expect(receiver.received.map((r) => r.id)).toEqual([receiver.received[0]!.id, receiver.received[0]!.id]);
    expect(receiver.received[0]!.verified).not.toHaveProperty('error');
  });

  it('the receiver’s verifier refuses a forged body, a moved timestamp, another secret and an old message signed again later', async () => {
    const { receiver, client } = await organisationWithEndpoint();
    await client(10n);
    await until(() => receiver.events().length === 1, round);
    const real = receiver.received[0]!;
    const headers = { 'webhook-id': real.id, 'webhook-timestamp': real.timestamp, 'webhook-signature': real.signature };
    const verifier = new Webhook(receiver.secret);
    expect(verifier.verify(real.body, headers)).toMatchObject({ type: 'entry.created' });
    expect(() => verifier.verify(real.body.replace('"10"', '"10000"'), headers)).toThrow();
    expect(() => verifier.verify(real.body, { ...headers, 'webhook-timestamp': String(Number(real.timestamp) + 1) })).toThrow();
    expect(() => verifier.verify(real.body, { ...headers, 'webhook-id': randomUUID() })).toThrow();
    expect(() => new Webhook(`whsec_${Buffer.from('another secret of 32 bytes......').toString('base64')}`).verify(real.body, headers)).toThrow();
    // Stretched: a genuine signature, but made ten minutes ago, is past the verifier's tolerance.
    const tenMinutesAgo = new Date(Date.now() - 600_000);
    const stale = verifier.sign(real.id, tenMinutesAgo, real.body);
    expect(() => verifier.verify(real.body, { ...headers, 'webhook-timestamp': String(Math.floor(tenMinutesAgo.getTime() / 1000)), 'webhook-signature': stale })).toThrow(/timestamp/i);
  });

  it('a write that rolls back leaves no event; one refused writes none either', async () => {
    const { client, endpoint } = await organisationWithEndpoint();
    const acme = await client(5n);
    const eventsOf = async (db: { query: CoreContext['db']['sql']['query'] }) =>
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1::uuid`, [endpoint.id]))[0]!.n;
    expect(await eventsOf(ctx.db.sql)).toBe(1);
    await expectError(image(acme, 2), 'INSUFFICIENT_CREDITS');
    const rolledBack = new Error('rolled back');
    await expect(
      ctx.db.sql.transaction(async (tx) => {
        // An entry written inside the transaction: its event is there, in the same transaction…
        await tx.query(
          `INSERT INTO entries (account_id, seq, type, description, amount, balance_after, outstanding_after, actor_kind, idempotency_key, request_hash, group_seq)
           VALUES ($1::uuid, 2, 'ADJUSTMENT', 'x', 1, 6, 0, 'STAFF', 'rolled-back', 'h', 2)`,
          [acme],
        );
        expect(await eventsOf(tx)).toBe(2);
        throw rolledBack;
      }),
    ).rejects.toBe(rolledBack);
    // …and gone with it.
    expect(await eventsOf(ctx.db.sql)).toBe(1);
  });

  it('refuses private, loopback, link-local and metadata addresses without the setting, at registration and again at delivery', async () => {
    const strict = webhookSettings({});
    const refusedUrls = [
      'http://127.0.0.1/hook', 'http://10.1.2.3/hook', 'http://172.16.0.1/', 'http://192.168.1.1/', 'http://100.64.0.1/', 'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/hook', 'http://[::ffff:127.0.0.1]/hook', 'http://[::ffff:a9fe:a9fe]/', 'http://[fd00::1]/', 'http://[fe80::1]/', 'http://[64:ff9b::a00:1]/',
      'http://0.0.0.0/', 'http://localhost/hook', 'ftp://example.com/', 'http://user:pw@203.0.114.1/',
    ];
    for (const url of refusedUrls) {
      await expectError(registerWebhookEndpoint(ctx, { url, eventTypes: ['entry.created'], createdBy: 'test' }, unrestricted, strict), 'WEBHOOK_URL_REFUSED');
    }
    // Allowing loopback allows only loopback.
    await expectError(registerWebhookEndpoint(ctx, { url: 'http://10.1.2.3/', eventTypes: ['entry.created'], createdBy: 'test' }, unrestricted, settings), 'WEBHOOK_URL_REFUSED');

    // Registered while loopback was allowed, then delivered by a dispatcher that does not allow it: nothing is sent.
    const { receiver, client, deliveries } = await organisationWithEndpoint();
    await client(10n);
    await deliverDueWebhooks(ctx, { ...strict, WEBHOOK_RETRY_BASE_MS: 1, WEBHOOK_RETRY_MAX_MS: 2 });
    expect(receiver.received).toEqual([]);
    expect((await deliveries())[0]).toMatchObject({ status: 'RETRYING', lastStatusCode: null, lastError: expect.stringMatching(/private, loopback/) });
  });

  it('follows no redirect: a 302 is a failed attempt and the other address is never asked', async () => {
    const { receiver, client, deliveries } = await organisationWithEndpoint();
    receiver.answer = () => 'redirect';
    await client(10n);
    await round();
    expect((await deliveries())[0]).toMatchObject({ status: 'RETRYING', lastStatusCode: 302, lastError: expect.stringMatching(/redirect .* not followed/) });
    expect(receiver.received.map((r) => r.path)).toEqual(['/hooks/creditkeeper']);
  });

  it('credits.expiring: a bucket with credits left expiring within the window, once however often the job runs', async () => {
    const { receiver, client } = await organisationWithEndpoint(['credits.expiring']);
    const acme = await client(0n);
    await grant(ctx, { accountId: acme, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 7n, expiresAt: inDays(2) });
    await grant(ctx, { accountId: acme, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 9n, expiresAt: inDays(20) });
    await queueExpiringCredits(ctx, { WEBHOOK_EXPIRING_WITHIN_HOURS: 72 });
    await queueExpiringCredits(ctx, { WEBHOOK_EXPIRING_WITHIN_HOURS: 72 });
    await until(() => receiver.events().length === 1, round);
    for (let i = 0; i < 3; i++) await round();
    expect(receiver.events()).toMatchObject([{ type: 'credits.expiring', data: { accountId: acme, kind: 'BONUS', remaining: '7' } }]);
  });

  it('deposit.outstanding when a reconciliation leaves credits owed', async () => {
    const { receiver, client } = await organisationWithEndpoint(['deposit.outstanding']);
    const acme = await client(88n);
    const submitted = await spend(ctx, { accountId: acme, idempotencyKey: key(), actor: service, charge: { action: 'submission', clipSeconds: [8, 8, 8, 8, 8, 8] } });
    // The 48 held cover 48 of the 100 the delivery cost; the balance is 0, so 52 are owed.
    await reconcileDeposit(ctx, { accountId: acme, idempotencyKey: key(), actor: service, depositId: submitted.depositId!, actual: { amount: 100n } });
    await until(() => receiver.events().length === 1, round);
    expect(receiver.events()[0]).toMatchObject({ type: 'deposit.outstanding', data: { accountId: acme, outstanding: '52', outstandingBefore: '0' } });
  });

  it('auto_reload.charge_unknown when a card charge’s answer is lost, once however often it is tried again', async () => {
    const { receiver, client } = await organisationWithEndpoint(['auto_reload.charge_unknown']);
    const acme = await client(0n);
    const chargeKey = `auto-reload#${randomUUID()}`;
    // What core/billing/chargeReservation.ts does: reserve, then mark the charge unknown on a timeout (twice here).
    await ctx.db.sql.query(`INSERT INTO auto_reload_reservations (account_id, idempotency_key, credits, attempts) VALUES ($1::uuid, $2, 50, 1)`, [acme, chargeKey]);
    for (const attempts of [1, 2]) {
      await ctx.db.sql.query(`UPDATE auto_reload_reservations SET status = 'UNKNOWN', attempts = $3, last_error = 'timed out' WHERE account_id = $1::uuid AND idempotency_key = $2`, [acme, chargeKey, attempts]);
    }
    await until(() => receiver.events().length === 1, round);
    for (let i = 0; i < 3; i++) await round();
    expect(receiver.events()).toMatchObject([{ type: 'auto_reload.charge_unknown', data: { accountId: acme, chargeKey, credits: '50', attempts: 1, lastError: 'timed out' } }]);
  });

  it('an endpoint failing for WEBHOOK_FAILING_AFTER_DAYS is disabled; its deliveries wait, and go in order once it is enabled again', async () => {
    const { receiver, client, endpoint, deliveries } = await organisationWithEndpoint();
    receiver.answer = () => 'fail';
    const acme = await client(10n);
    await round();
    await ctx.db.sql.query(`UPDATE webhook_endpoints SET failing_since = now() - interval '6 days' WHERE id = $1::uuid`, [endpoint.id]);
    await until(async () => (await deliveries())[0]!.attempts === 2, round);
    const [row] = await ctx.db.sql.query<{ enabled: boolean }>(`SELECT enabled FROM webhook_endpoints WHERE id = $1::uuid`, [endpoint.id]);
    expect(row!.enabled).toBe(false);
    await image(acme); // no endpoint wants it now: not queued for this one
    for (let i = 0; i < 3; i++) await round();
    expect(receiver.received).toHaveLength(2);

    receiver.answer = () => 'ok';
    await setWebhookEndpointEnabled(ctx, { endpointId: endpoint.id, enabled: true }, unrestricted);
    await until(() => receiver.events().length === 1, round);
    expect(receiver.events()[0]!.data).toMatchObject({ type: 'PURCHASE' });
    // Replayed: the same event again, with its webhook-id.
    await replayWebhookDelivery(ctx, { endpointId: endpoint.id, eventId: receiver.events()[0]!.id }, unrestricted);
    await until(() => receiver.received.filter((r) => r.verified && !('error' in r.verified)).length === 2, round);
    expect(receiver.received.at(-1)!.id).toBe(receiver.events()[0]!.id);
  });
});
