import { Validator } from '@seriousme/openapi-schema-validator';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiRoutes } from '../../admin/app.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import { revokeApiToken } from '../../core/access/revokeApiToken.js';
import { client, useApi } from '../support/api.js';
import { engines } from '../support/databases.js';
import { useFreshLedger } from '../support/scenario.js';

const staff = { kind: 'STAFF', id: 'test-setup' } as const;

describe.each(engines)('the HTTP API on %s', (engine) => {
  const ctx = useFreshLedger(engine);
  const api = useApi(ctx);
  const as = (token: string) => client(api.baseUrl, token);

  async function openUser(): Promise<string> {
    const reply = await as(api.service)('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'USER', externalId: `u-${randomUUID()}` } } });
    expect(reply.status).toBe(201);
    return reply.body.accountId as string;
  }

  it('a host product opens an account, tops it up, posts the seed-002 submission and reads the balance', async () => {
    const call = as(api.service);
    const accountId = await openUser();
    const topUp = await call('POST', `/v1/accounts/${accountId}/purchases`, { key: 'order-1', body: { amount: 200, source: { kind: 'order', id: '1001' } } });
    expect(topUp.status).toBe(201);
    expect(topUp.body.entries[0]).toMatchObject({ type: 'PURCHASE', amount: '200', balanceAfter: '200' });
    const submit = await call('POST', `/v1/accounts/${accountId}/usage`, {
      key: 'creative-77',
      body: { charge: { action: 'submission', clipSeconds: [8, 8, 8, 8, 8, 8] }, source: { kind: 'creative', id: '77', url: 'https://studio.example/c/77' } },
    });
    expect(submit.status).toBe(201);
    expect(submit.body.entries[0]).toMatchObject({ type: 'DEPOSIT', amount: '-88', balanceAfter: '112' });
    const delivered = await call('POST', `/v1/accounts/${accountId}/deposits/${submit.body.depositId}/reconciliation`, {
      key: 'delivery-77',
      body: { actual: { deliveredSeconds: [8, 8, 8, 8, 8, 4] } },
    });
    expect(delivered.body.entries[0]).toMatchObject({ type: 'DEPOSIT_RECONCILIATION', amount: '4', balanceAfter: '116' });
    const balance = await as(api.reader)('GET', `/v1/accounts/${accountId}/balance`);
    expect(balance.status).toBe(200);
    expect(balance.body).toMatchObject({ available: '116', outstanding: '0', inFlightDeposits: { count: 0, amount: '0' } });
  });

  it('a retry replays the first reply; the same key with another body is 409; writes need a key', async () => {
    const call = as(api.service);
    const accountId = await openUser();
    await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), body: { amount: 30 } });
    const first = await call('POST', `/v1/accounts/${accountId}/usage`, { key: 'img-1', body: { charge: { action: 'image', quantity: 2 } } });
    const retry = await call('POST', `/v1/accounts/${accountId}/usage`, { key: 'img-1', body: { charge: { action: 'image', quantity: 2 } } });
    expect(retry.status).toBe(first.status);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const conflict = await call('POST', `/v1/accounts/${accountId}/usage`, { key: 'img-1', body: { charge: { action: 'image', quantity: 3 } } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('IDEMPOTENCY_CONFLICT');
    const keyless = await call('POST', `/v1/accounts/${accountId}/usage`, { body: { charge: { action: 'image' } } });
    expect([keyless.status, keyless.body.error.code]).toEqual([400, 'IDEMPOTENCY_KEY_REQUIRED']);
    expect((await as(api.reader)('GET', `/v1/accounts/${accountId}/balance`)).body.available).toBe('24');
  });

  it('tokens: none or unknown is 401, revoked is 401, the wrong scope is 403', async () => {
    const accountId = await openUser();
    const anonymous = await client(api.baseUrl)('GET', `/v1/accounts/${accountId}/balance`);
    expect([anonymous.status, anonymous.body.error.code]).toEqual([401, 'UNAUTHENTICATED']);
    expect((await as('ck_not-a-real-token-at-all')('GET', `/v1/accounts/${accountId}/balance`)).status).toBe(401);
    const reader = await as(api.reader)('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), body: { amount: 5 } });
    expect([reader.status, reader.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const serviceOnAdmin = await as(api.service)('POST', `/v1/admin/accounts/${accountId}/adjustments`, { key: randomUUID(), body: { amount: 5, reason: 'x' } });
    expect(serviceOnAdmin.status).toBe(403);
    const temporary = await createApiToken(ctx, { name: 'temp', scopes: ['READ'], actor: staff });
    expect((await as(temporary.secret)('GET', `/v1/accounts/${accountId}/balance`)).status).toBe(200);
    await revokeApiToken(ctx, { tokenId: temporary.id, actor: staff });
    expect((await as(temporary.secret)('GET', `/v1/accounts/${accountId}/balance`)).status).toBe(401);
  });

  it("an organisation's token cannot see or touch another organisation's accounts", async () => {
    const call = as(api.service);
    const [acme, globex] = ['acme', 'globex'].map((name) => `${name}-${randomUUID()}`);
    for (const externalId of [acme, globex]) {
      await call('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'ORGANISATION', externalId, name: externalId } } });
    }
    const globexClient = await call('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'CLIENT', organisationExternalId: globex, externalId: 'c1', name: 'Client' } } });
    const acmeToken = (await createApiToken(ctx, { name: 'acme', scopes: ['SERVICE', 'READ'], organisationExternalId: acme, actor: staff })).secret;
    const read = await as(acmeToken)('GET', `/v1/accounts/${globexClient.body.accountId}/balance`);
    expect([read.status, read.body.error.code]).toEqual([404, 'ACCOUNT_NOT_FOUND']);
    const write = await as(acmeToken)('POST', `/v1/accounts/${globexClient.body.accountId}/purchases`, { key: randomUUID(), body: { amount: 5 } });
    expect(write.status).toBe(404);
    const open = await as(acmeToken)('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'CLIENT', organisationExternalId: globex, externalId: 'c2', name: 'Sneaky' } } });
    expect(open.status).toBe(403);
    const own = await as(acmeToken)('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'CLIENT', organisationExternalId: acme, externalId: 'c1', name: 'Mine' } } });
    expect(own.status).toBe(201);
    expect((await as(acmeToken)('GET', `/v1/accounts/${own.body.accountId}/balance`)).status).toBe(200);
  });

  it('bad input is a 4xx with a stable code, writes nothing, and never shows a stack trace', async () => {
    const call = as(api.service);
    const accountId = await openUser();
    await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), body: { amount: 10 } });
    const cases: [string, Parameters<typeof call>[2] & { path?: string }, number, string][] = [
      ['malformed JSON', { raw: '{"amount": ', key: randomUUID() }, 400, 'VALIDATION_FAILED'],
      ['a huge body', { raw: JSON.stringify({ amount: 5, source: { label: 'x'.repeat(100_000) } }), key: randomUUID() }, 413, 'PAYLOAD_TOO_LARGE'],
      ['an unknown field', { body: { amount: 5, accountId: randomUUID() }, key: randomUUID() }, 400, 'VALIDATION_FAILED'],
      ['a negative amount', { body: { amount: -5 }, key: randomUUID() }, 400, 'AMOUNT_OUT_OF_RANGE'],
      ['a fractional amount', { body: { amount: 2.5 }, key: randomUUID() }, 400, 'VALIDATION_FAILED'],
      ['a string that is no number', { body: { amount: 'ten' }, key: randomUUID() }, 400, 'VALIDATION_FAILED'],
      ['a bad idempotency key', { body: { amount: 5 }, key: 'spaces are not allowed' }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [label, options, status, code] of cases) {
      const reply = await call('POST', `/v1/accounts/${accountId}/purchases`, options);
      expect([label, reply.status, reply.body?.error?.code]).toEqual([label, status, code]);
      expect(reply.body.error.requestId).toEqual(expect.any(String));
      expect(reply.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
    }
    const missing = await call('POST', `/v1/accounts/${randomUUID()}/usage`, { key: randomUUID(), body: { charge: { action: 'image' } } });
    expect([missing.status, missing.body.error.code]).toEqual([404, 'ACCOUNT_NOT_FOUND']);
    const notAnId = await call('GET', '/v1/accounts/not-an-id/balance');
    expect(notAnId.status).toBe(400);
    const broke = await call('POST', `/v1/accounts/${accountId}/usage`, { key: randomUUID(), body: { charge: { action: 'image', quantity: 4 } } });
    expect([broke.status, broke.body.error.code, broke.body.error.details]).toEqual([402, 'INSUFFICIENT_CREDITS', { required: '12', available: '10' }]);
    const nowhere = await call('GET', '/v1/nowhere');
    expect([nowhere.status, nowhere.body.error.code]).toEqual([404, 'NOT_FOUND']);
    expect((await as(api.reader)('GET', `/v1/accounts/${accountId}/balance`)).body.available).toBe('10');
  });

  it('reads: activity with filters and cursors, the group behind a row, daily and monthly usage, /why, CSV', async () => {
    const call = as(api.service);
    const read = as(api.reader);
    const accountId = await openUser();
    await call('POST', `/v1/accounts/${accountId}/grants`, { key: randomUUID(), body: { type: 'PLAN_GRANT', bucket: 'PLAN', amount: 325, expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString() } });
    for (let i = 0; i < 3; i++) await call('POST', `/v1/accounts/${accountId}/usage`, { key: randomUUID(), body: { charge: { action: 'image', quantity: 1 } } });
    await call('POST', `/v1/accounts/${accountId}/usage`, { key: randomUUID(), body: { charge: { action: 'chat', quantity: 5 } } });
    const page = await read('GET', `/v1/accounts/${accountId}/activity?pageSize=2`);
    expect(page.body.showing).toEqual({ from: 1, to: 2, total: 3 });
    expect(page.body.rows.map((r: { category: string; amount: string; count: number }) => [r.category, r.amount, r.count])).toEqual([
      ['Chat', '-5', 1],
      ['Image generation', '-9', 3],
    ]);
    const next = await read('GET', `/v1/accounts/${accountId}/activity?pageSize=2&cursor=${page.body.next}`);
    expect(next.body.rows[0].label).toBe('Monthly grant');
    const used = await read('GET', `/v1/accounts/${accountId}/activity?filter=USED&types=USAGE&from=2020-01-01`);
    expect(used.body.showing.total).toBe(2);
    const group = await read('GET', `/v1/accounts/${accountId}/activity/groups/${page.body.rows[1].seq}`);
    expect(group.body.map((e: { amount: string }) => e.amount)).toEqual(['-3', '-3', '-3']);
    const daily = await read('GET', `/v1/accounts/${accountId}/usage/daily?timeZone=Asia/Kolkata`);
    expect(daily.body).toMatchObject({ timeZone: 'Asia/Kolkata', total: '14' });
    expect(daily.body.days).toHaveLength(30);
    expect((await read('GET', `/v1/accounts/${accountId}/usage/monthly`)).body.months[0]).toMatchObject({ current: true, used: '14', transactions: 4 });
    const why = await read('GET', `/v1/accounts/${accountId}/why?expectedBalance=325`);
    expect(why.body).toMatchObject({ addsUp: true, total: '311', end: { balance: '311' }, gap: { kind: 'WAS_EXPECTED_AFTER', change: '-14' } });
    const csv = await read('GET', `/v1/accounts/${accountId}/activity.csv?filter=USED`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    expect(csv.text.trim().split('\r\n')).toHaveLength(5);
    for (const bad of ['filter=SPENT', 'pageSize=0', 'from=yesterday', 'types=GIFT', 'surprise=1']) {
      const reply = await read('GET', `/v1/accounts/${accountId}/activity?${bad}`);
      expect([bad, reply.status, reply.body.error.code]).toEqual([bad, 400, 'VALIDATION_FAILED']);
    }
    expect((await read('GET', `/v1/accounts/${accountId}/usage/daily?timeZone=Mars/Olympus`)).status).toBe(400);
    expect((await read('GET', `/v1/accounts/${accountId}/why?expectedBalance=lots`)).status).toBe(400);
  });

  it('staff adjust with a reason, as themselves; the audit log says who, what, why and from where', async () => {
    const accountId = await openUser();
    const staffCall = as(api.admin);
    const empty = await staffCall('POST', `/v1/admin/accounts/${accountId}/adjustments`, { key: randomUUID(), body: { amount: 25, reason: '  ' } });
    expect([empty.status, empty.body.error.code]).toEqual([400, 'REASON_REQUIRED']);
    const adjusted = await staffCall('POST', `/v1/admin/accounts/${accountId}/adjustments`, {
      key: randomUUID(),
      body: { amount: 25, reason: 'Compensation for a delivery miss' },
      headers: { 'user-agent': 'support-console/1.0' },
    });
    expect(adjusted.status).toBe(201);
    expect(adjusted.body.entries[0]).toMatchObject({ type: 'ADJUSTMENT', amount: '25', note: 'Compensation for a delivery miss', actor: { kind: 'STAFF', id: 'ana@support' } });
    const off = await staffCall('POST', `/v1/admin/accounts/${accountId}/write-offs`, { key: randomUUID(), body: { amount: 5, reason: 'Duplicate' } });
    expect(off.body.entries[0]).toMatchObject({ type: 'WRITE_OFF', amount: '-5' });
    const used = await as(api.service)('POST', `/v1/accounts/${accountId}/usage`, { key: randomUUID(), body: { charge: { action: 'image', quantity: 2 } } });
    const unexplained = await staffCall('POST', `/v1/accounts/${accountId}/refunds`, { key: randomUUID(), body: { entryId: used.body.entries[0].id } });
    expect([unexplained.status, unexplained.body.error.code]).toEqual([400, 'REASON_REQUIRED']);
    const refunded = await staffCall('POST', `/v1/accounts/${accountId}/refunds`, { key: randomUUID(), body: { entryId: used.body.entries[0].id, reason: 'Blurry images' } });
    expect(refunded.body.entries[0]).toMatchObject({ type: 'REFUND', amount: '6', actor: { kind: 'STAFF', id: 'ana@support' } });
    const audit = await staffCall('GET', `/v1/admin/audit?accountId=${accountId}`);
    expect(audit.body.rows.map((r: { action: string; reason: string; actor: { id: string } }) => [r.action, r.reason, r.actor.id])).toEqual([
      ['refund', 'Blurry images', 'ana@support'],
      ['writeOff', 'Duplicate', 'ana@support'],
      ['adjust', 'Compensation for a delivery miss', 'ana@support'],
    ]);
    expect(audit.body.rows[2].origin).toMatchObject({ transport: 'http', userAgent: 'support-console/1.0', requestId: adjusted.headers.get('x-request-id') });
    expect(audit.body.rows[2].details.entries[0]).toMatchObject({ type: 'ADJUSTMENT', amount: '25' });
    const found = await staffCall('GET', `/v1/admin/accounts?search=${accountId}`);
    expect(found.body).toEqual([expect.objectContaining({ accountId, balance: '20' })]);
  });

  it('health, readiness, and an OpenAPI document that validates and lists every route', async () => {
    const anonymous = client(api.baseUrl);
    expect((await anonymous('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await anonymous('GET', '/readyz')).body).toEqual({ status: 'ready', pending: [] });
    const document = (await anonymous('GET', '/v1/openapi.json')).body;
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const listed = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method} ${path}`),
    );
    expect(listed.sort()).toEqual(apiRoutes.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`).sort());
    const usage = document.paths['/v1/accounts/{accountId}/usage'].post;
    expect(usage.parameters.map((p: { name: string }) => p.name)).toEqual(['accountId', 'Idempotency-Key']);
    expect(Object.keys(usage.requestBody.content['application/json'].schema.properties)).toEqual(['charge', 'discountPercent', 'source', 'note']);
  });
});
