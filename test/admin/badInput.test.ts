import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { client, useApi } from '../support/api.js';
import { entryCount, useFreshLedger } from '../support/scenario.js';

/**
 * Input that used to get a 500: each is a 4xx with a stable code now, and writes nothing.
 * Lone UTF-16 surrogates, dates PostgreSQL cannot store, row numbers beyond bigint, a body that
 * says gzip but is not, and a JSON amount beyond 2^53.
 */
describe('bad input gets a 4xx, never a 500 (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const api = useApi(ctx);
  let accountId = '';
  let call: ReturnType<typeof client>;
  beforeAll(async () => {
    call = client(api.baseUrl, api.service);
    accountId = (await call('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'USER', externalId: 'vera' } } })).body.accountId;
    await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), body: { amount: 100 } });
  });

  const refused = async (reply: { status: number; body: any; text: string }, code: string) => {
    expect(reply.status, reply.text).toBe(400);
    expect(reply.body.error.code, reply.text).toBe(code);
  };

  it('a lone surrogate in any text field', async () => {
    const before = await entryCount(ctx, accountId);
    const admin = client(api.baseUrl, api.admin);
    await refused(await admin('POST', `/v1/admin/accounts/${accountId}/adjustments`, { key: randomUUID(), raw: '{"amount":5,"reason":"\\ud800"}' }), 'VALIDATION_FAILED');
    await refused(await call('POST', `/v1/accounts/${accountId}/usage`, { key: randomUUID(), raw: '{"charge":{"action":"chat"},"source":{"label":"a\\udfffb"}}' }), 'VALIDATION_FAILED');
    await refused(await call('POST', '/v1/accounts', { key: randomUUID(), raw: '{"owner":{"kind":"USER","externalId":"\\udc00"}}' }), 'VALIDATION_FAILED');
    // Percent-encoded bytes that are not UTF-8, in a path and in a query.
    expect((await call('POST', '/v1/users/%ED%A0%80/link-codes', { key: randomUUID(), body: { provider: 'DISCORD' } })).status).toBe(400);
    expect((await admin('GET', '/v1/admin/accounts?search=%ED%A0%80')).status).toBeLessThan(500);
    expect(await entryCount(ctx, accountId)).toBe(before);
  });

  it('dates outside 1970–9999: activity from, why since, an expiry in year 275760', async () => {
    await refused(await call('GET', `/v1/accounts/${accountId}/activity?from=0000-01-01`), 'VALIDATION_FAILED');
    await refused(await call('GET', `/v1/accounts/${accountId}/activity?to=1969-12-31`), 'VALIDATION_FAILED');
    await refused(await call('GET', `/v1/accounts/${accountId}/why?since=0000-01-01`), 'VALIDATION_FAILED');
    const before = await entryCount(ctx, accountId);
    await refused(
      await call('POST', `/v1/accounts/${accountId}/grants`, { key: randomUUID(), body: { type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 5, expiresAt: '+275760-09-13T00:00:00.000Z' } }),
      'VALIDATION_FAILED',
    );
    expect(await entryCount(ctx, accountId)).toBe(before);
  });

  it('a row number beyond bigint', async () => {
    await refused(await call('GET', `/v1/accounts/${accountId}/activity/groups/9223372036854775808`), 'VALIDATION_FAILED');
    expect((await call('GET', `/v1/accounts/${accountId}/activity/groups/9223372036854775807`)).status).toBe(404);
  });

  it('a body labelled gzip that is not gzip, and one in an encoding nobody speaks', async () => {
    const post = (headers: Record<string, string>, raw: string) => call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), raw, headers });
    await refused(await post({ 'content-encoding': 'gzip' }, '{"amount":5}'), 'VALIDATION_FAILED');
    await refused(await post({ 'content-encoding': 'deflate' }, 'not deflate'), 'VALIDATION_FAILED');
    await refused(await post({ 'content-encoding': 'rot13' }, '{"amount":5}'), 'VALIDATION_FAILED');
    const zipped = await fetch(`${api.baseUrl}/v1/accounts/${accountId}/purchases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.service}`, 'idempotency-key': randomUUID(), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync('{"amount":5}'),
    });
    expect(zipped.status).toBe(201);
  });

  it('a JSON amount beyond 2^53 is AMOUNT_OUT_OF_RANGE, as the README says', async () => {
    const before = await entryCount(ctx, accountId);
    await refused(await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), raw: '{"amount":1e16}' }), 'AMOUNT_OUT_OF_RANGE');
    await refused(await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), raw: '{"amount":9007199254740993}' }), 'AMOUNT_OUT_OF_RANGE');
    await refused(await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), raw: '{"amount":1e300}' }), 'AMOUNT_OUT_OF_RANGE');
    await refused(await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), raw: '{"amount":1.5}' }), 'VALIDATION_FAILED');
    expect(await entryCount(ctx, accountId)).toBe(before);
  });
});
