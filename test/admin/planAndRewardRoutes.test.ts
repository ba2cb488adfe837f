import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adVerifierKeys } from '../../core/rewards/adVerifierKeys.js';
import { client, useApi } from '../support/api.js';
import { useFreshLedger } from '../support/scenario.js';

describe('plans, link codes, auto-reload and the ad callback over HTTP (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  beforeAll(() => {
    ctx.adKeys = adVerifierKeys('https://keys.example.test/keys.json');
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
    nock('https://keys.example.test')
      .get('/keys.json')
      .reply(200, { keys: [{ keyId: 7, pem: publicKey.export({ type: 'spki', format: 'pem' }) }] });
  });
  afterAll(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });
  const api = useApi(ctx);
  const openUser = async (externalId: string): Promise<string> => {
    const call = client(api.baseUrl, api.service);
    return (await call('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'USER', externalId } } })).body.accountId;
  };

  it('lists the seed plans; subscribes to Growth (325 now), replays, upgrades to Scale with a proration, cancels', async () => {
    const call = client(api.baseUrl, api.service);
    const plans = (await client(api.baseUrl, api.reader)('GET', '/v1/plans')).body.plans;
    expect(plans.map((p: { id: string; allocation: number }) => [p.id, p.allocation])).toEqual([
      ['free', 12],
      ['starter', 150],
      ['growth', 325],
      ['scale', 575],
    ]);
    const accountId = await openUser('paula');
    expect((await call('GET', `/v1/accounts/${accountId}/subscription`)).body.error.code).toBe('SUBSCRIPTION_NOT_FOUND');
    const key = randomUUID();
    const subscribed = await call('POST', `/v1/accounts/${accountId}/subscription`, { key, body: { plan: 'growth', timeZone: 'America/Chicago' } });
    expect(subscribed.status).toBe(200);
    expect(subscribed.body).toMatchObject({ subscription: { plan: 'growth', status: 'ACTIVE', timeZone: 'America/Chicago' }, balance: '325' });
    expect(subscribed.body.entries[0]).toMatchObject({ type: 'PLAN_GRANT', description: 'Monthly grant: Growth plan', amount: '325' });
    const replay = await call('POST', `/v1/accounts/${accountId}/subscription`, { key, body: { plan: 'growth', timeZone: 'America/Chicago' } });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const upgraded = await call('POST', `/v1/accounts/${accountId}/subscription`, { key: randomUUID(), body: { plan: 'scale' } });
    expect(upgraded.body.entries[0]).toMatchObject({ type: 'PRORATION', description: 'Mid cycle proration: Growth → Scale' });
    expect((await call('GET', `/v1/accounts/${accountId}/subscription`)).body).toMatchObject({ plan: 'scale' });
    expect((await call('POST', `/v1/accounts/${accountId}/subscription/cancel`, { key: randomUUID(), body: {} })).body).toMatchObject({ status: 'CANCELLED' });
  });

  it('refuses a plan that does not exist (404), a bad zone or an unknown field (400), no key (400), a reader token (403)', async () => {
    const call = client(api.baseUrl, api.service);
    const accountId = await openUser('quinn');
    const post = (body: unknown) => call('POST', `/v1/accounts/${accountId}/subscription`, { key: randomUUID(), body });
    expect((await post({ plan: 'platinum' })).status).toBe(404);
    expect((await post({ plan: 'free', timeZone: 'Nowhere/Land' })).status).toBe(400);
    expect((await post({ plan: 'free', allocation: 1000 })).status).toBe(400);
    expect((await call('POST', `/v1/accounts/${accountId}/subscription`, { body: { plan: 'free' } })).body.error.code).toBe('IDEMPOTENCY_KEY_REQUIRED');
    expect((await client(api.baseUrl, api.reader)('POST', `/v1/accounts/${accountId}/subscription`, { key: randomUUID(), body: { plan: 'free' } })).status).toBe(403);
    expect((await call('GET', `/v1/accounts/${accountId}/subscription`)).status).toBe(404);
  });

  it('makes a link code for a user (201, once per key); an unknown user is 404', async () => {
    const call = client(api.baseUrl, api.service);
    await openUser('rosa');
    const key = randomUUID();
    const made = await call('POST', '/v1/users/rosa/link-codes', { key, body: { provider: 'DISCORD' } });
    expect(made.status).toBe(201);
    expect(made.body.code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    expect((await call('POST', '/v1/users/rosa/link-codes', { key, body: { provider: 'DISCORD' } })).body.code).toBe(made.body.code);
    expect((await call('POST', '/v1/users/nobody/link-codes', { key: randomUUID(), body: { provider: 'DISCORD' } })).status).toBe(404);
    expect((await call('POST', '/v1/users/rosa/link-codes', { key: randomUUID(), body: { provider: 'IRC' } })).status).toBe(400);
  });

  it('sets auto-reload and reads it back; refuses a negative amount', async () => {
    const call = client(api.baseUrl, api.service);
    const accountId = await openUser('sam');
    expect((await call('GET', `/v1/accounts/${accountId}/auto-reload`)).body).toMatchObject({ enabled: false });
    const set = await call('POST', `/v1/accounts/${accountId}/auto-reload`, { key: randomUUID(), body: { enabled: true, amount: 50, monthlyLimit: 200 } });
    expect(set.body).toMatchObject({ enabled: true, amount: '50', monthlyLimit: '200', usedThisMonth: '0' });
    expect((await call('POST', `/v1/accounts/${accountId}/auto-reload`, { key: randomUUID(), body: { enabled: true, amount: -5 } })).status).toBe(400);
  });

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
    const balance = await client(api.baseUrl, api.reader)('GET', `/v1/accounts/${accountId}/balance`);
    expect(balance.body.available).toBe('2');
  });
});
