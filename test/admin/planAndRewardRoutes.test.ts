import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adVerifierKeys } from '../../core/rewards/adVerifierKeys.js';
import { client, dataOf, key, refusal, typedClient, useApi } from '../support/api.js';
import { LoopbackApi } from '../support/loopbackApi.js';
import { useFreshLedger } from '../support/scenario.js';

describe('plans, link codes, auto-reload and the ad callback over HTTP (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // The ad network's published keys, on a loopback server of its own.
  let keysHost: LoopbackApi;
  beforeAll(async () => {
    keysHost = await LoopbackApi.start();
    keysHost.route('GET', '/keys.json', () => [200, { keys: [{ keyId: 7, pem: publicKey.export({ type: 'spki', format: 'pem' }) }] }]);
    ctx.adKeys = adVerifierKeys(`${keysHost.url}/keys.json`);
  });
  afterAll(() => keysHost.close());
  const api = useApi(ctx);
  const openUser = async (externalId: string): Promise<string> =>
    dataOf(await typedClient(api.baseUrl, api.service).POST('/v1/accounts', { params: { header: key() }, body: { owner: { kind: 'USER', externalId } } })).accountId;

  it('lists the seed plans; subscribes to Growth (325 now), replays, upgrades to Scale with a proration, cancels', async () => {
    const host = typedClient(api.baseUrl, api.service);
    const { plans } = dataOf(await typedClient(api.baseUrl, api.reader).GET('/v1/plans'));
    expect(plans.map((p) => [p.id, p.allocation])).toEqual([
      ['free', 12],
      ['starter', 150],
      ['growth', 325],
      ['scale', 575],
    ]);
    const path = { accountId: await openUser('paula') };
    expect(refusal(await host.GET('/v1/accounts/{accountId}/subscription', { params: { path } }))).toEqual([404, 'SUBSCRIPTION_NOT_FOUND']);
    const subscribe = (body: { plan: string; timeZone?: string }, idempotencyKey?: string) =>
      host.POST('/v1/accounts/{accountId}/subscription', { params: { path, header: key(idempotencyKey) }, body });
    const first = randomUUID();
    const subscribed = await subscribe({ plan: 'growth', timeZone: 'America/Chicago' }, first);
    expect(subscribed.response.status).toBe(200);
    expect(dataOf(subscribed)).toMatchObject({ subscription: { plan: 'growth', status: 'ACTIVE', timeZone: 'America/Chicago' }, balance: '325' });
    expect(dataOf(subscribed).entries[0]).toMatchObject({ type: 'PLAN_GRANT', description: 'Monthly grant: Growth plan', amount: '325' });
    const replay = await subscribe({ plan: 'growth', timeZone: 'America/Chicago' }, first);
    expect(replay.response.headers.get('idempotent-replayed')).toBe('true');
    const upgraded = await subscribe({ plan: 'scale' });
    expect(dataOf(upgraded).entries[0]).toMatchObject({ type: 'PRORATION', description: 'Mid cycle proration: Growth → Scale' });
    expect(dataOf(await host.GET('/v1/accounts/{accountId}/subscription', { params: { path } }))).toMatchObject({ plan: 'scale' });
    const cancelled = await host.POST('/v1/accounts/{accountId}/subscription/cancel', { params: { path, header: key() }, body: {} });
    expect(dataOf(cancelled)).toMatchObject({ status: 'CANCELLED' });
  });

  it('refuses a plan that does not exist (404), a bad zone or an unknown field (400), no key (400), a reader token (403)', async () => {
    const host = typedClient(api.baseUrl, api.service);
    const path = { accountId: await openUser('quinn') };
    const subscribe = (body: { plan: string; timeZone?: string }) => host.POST('/v1/accounts/{accountId}/subscription', { params: { path, header: key() }, body });
    expect(refusal(await subscribe({ plan: 'platinum' }))).toEqual([404, 'PLAN_NOT_FOUND']);
    expect(refusal(await subscribe({ plan: 'free', timeZone: 'Nowhere/Land' }))).toEqual([400, 'VALIDATION_FAILED']);
    // Sent raw: a field and a request the document does not allow.
    const call = client(api.baseUrl, api.service);
    expect((await call('POST', `/v1/accounts/${path.accountId}/subscription`, { key: randomUUID(), body: { plan: 'free', allocation: 1000 } })).status).toBe(400);
    expect((await call('POST', `/v1/accounts/${path.accountId}/subscription`, { body: { plan: 'free' } })).body.error.code).toBe('IDEMPOTENCY_KEY_REQUIRED');
    const asReader = await typedClient(api.baseUrl, api.reader).POST('/v1/accounts/{accountId}/subscription', { params: { path, header: key() }, body: { plan: 'free' } });
    expect(refusal(asReader)).toEqual([403, 'FORBIDDEN']);
    expect(refusal(await host.GET('/v1/accounts/{accountId}/subscription', { params: { path } }))).toEqual([404, 'SUBSCRIPTION_NOT_FOUND']);
  });

  it('makes a link code for a user (201, once per key); an unknown user is 404', async () => {
    const host = typedClient(api.baseUrl, api.service);
    await openUser('rosa');
    const linkCode = (userExternalId: string, idempotencyKey?: string) =>
      host.POST('/v1/users/{userExternalId}/link-codes', { params: { path: { userExternalId }, header: key(idempotencyKey) }, body: { provider: 'DISCORD' } });
    const first = randomUUID();
    const made = await linkCode('rosa', first);
    expect(made.response.status).toBe(201);
    expect(dataOf(made).code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    expect(dataOf(await linkCode('rosa', first)).code).toBe(dataOf(made).code);
    expect(refusal(await linkCode('nobody'))).toEqual([404, 'OWNER_NOT_FOUND']);
    // Sent raw: a provider the document does not list.
    expect((await client(api.baseUrl, api.service)('POST', '/v1/users/rosa/link-codes', { key: randomUUID(), body: { provider: 'IRC' } })).status).toBe(400);
  });

  it('sets auto-reload and reads it back; refuses a negative amount', async () => {
    const host = typedClient(api.baseUrl, api.service);
    const path = { accountId: await openUser('sam') };
    expect(dataOf(await host.GET('/v1/accounts/{accountId}/auto-reload', { params: { path } }))).toMatchObject({ enabled: false, amount: null });
    const set = await host.POST('/v1/accounts/{accountId}/auto-reload', { params: { path, header: key() }, body: { enabled: true, amount: 50, monthlyLimit: 200 } });
    expect(dataOf(set)).toMatchObject({ enabled: true, amount: '50', monthlyLimit: '200', usedThisMonth: '0' });
    const negative = await host.POST('/v1/accounts/{accountId}/auto-reload', { params: { path, header: key() }, body: { enabled: true, amount: -5 } });
    expect(refusal(negative)[0]).toBe(400);
  });

  // Sent raw: the ad network signs the query string byte for byte.
  it('the ad callback needs no token, pays a verified view once, refuses a forged one with 401 and says why', async () => {
    const accountId = await openUser('tia');
    const fields = `ad_network=1&ad_unit=9&reward_amount=1&reward_item=coins&timestamp=${Date.now()}&transaction_id=t-${randomUUID()}&user_id=tia`;
    const signature = sign('sha256', Buffer.from(fields), { key: privateKey, dsaEncoding: 'der' }).toString('base64url');
    const anonymous = client(api.baseUrl);
    const first = await anonymous('GET', `/v1/public/ad-rewards?${fields}&signature=${signature}&key_id=7`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ rewarded: true, credits: '2', balance: '2' });
    expect((await anonymous('GET', `/v1/public/ad-rewards?${fields}&signature=${signature}&key_id=7`)).body).toMatchObject({ rewarded: false });
    const forged = await anonymous('GET', `/v1/public/ad-rewards?${fields.replace('reward_amount=1', 'reward_amount=9')}&signature=${signature}&key_id=7`);
    expect(forged.status).toBe(401);
    expect(forged.body.error).toMatchObject({ code: 'AD_CALLBACK_INVALID', message: 'Ad callback refused: the signature does not verify' });
    expect((await anonymous('GET', '/v1/public/ad-rewards')).status).toBe(400);
    expect(keysHost.requests).toEqual(['GET /keys.json']); // the keys were fetched once, for three callbacks
    const balance = await typedClient(api.baseUrl, api.reader).GET('/v1/accounts/{accountId}/balance', { params: { path: { accountId } } });
    expect(dataOf(balance).available).toBe('2');
  });
});
