import { Validator } from '@seriousme/openapi-schema-validator';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiRoutes } from '../../admin/app.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import { revokeApiToken } from '../../core/access/revokeApiToken.js';
import { client, dataOf, key, landed, refusal, typedClient, useApi } from '../support/api.js';
import { engines } from '../support/databases.js';
import { useFreshLedger } from '../support/scenario.js';

const staff = { kind: 'STAFF', id: 'test-setup' } as const;

describe.each(engines)('the HTTP API on %s', (engine) => {
  const ctx = useFreshLedger(engine);
  const api = useApi(ctx);
  const as = (token?: string) => typedClient(api.baseUrl, token);

  async function openUser(): Promise<string> {
    const reply = await as(api.service).POST('/v1/accounts', { params: { header: key() }, body: { owner: { kind: 'USER', externalId: `u-${randomUUID()}` } } });
    expect(reply.response.status).toBe(201);
    return dataOf(reply).accountId;
  }

  it('a host product opens an account, tops it up, posts the submission and reads the balance', async () => {
    const host = as(api.service);
    const accountId = await openUser();
    const path = { accountId };
    const topUp = await host.POST('/v1/accounts/{accountId}/purchases', { params: { path, header: key('order-1') }, body: { amount: 200, source: { kind: 'order', id: '1001' } } });
    expect(topUp.response.status).toBe(201);
    expect(landed(dataOf(topUp)).entries[0]).toMatchObject({ type: 'PURCHASE', amount: '200', balanceAfter: '200' });
    const submit = await host.POST('/v1/accounts/{accountId}/usage', {
      params: { path, header: key('creative-77') },
      body: { charge: { action: 'submission', clipSeconds: [8, 8, 8, 8, 8, 8] }, source: { kind: 'creative', id: '77', url: 'https://studio.example/c/77' } },
    });
    expect(submit.response.status).toBe(201);
    const { depositId, entries } = landed(dataOf(submit));
    expect(entries[0]).toMatchObject({ type: 'DEPOSIT', amount: '-88', balanceAfter: '112' });
    const delivered = await host.POST('/v1/accounts/{accountId}/deposits/{depositId}/reconciliation', {
      params: { path: { accountId, depositId: depositId! }, header: key('delivery-77') },
      body: { actual: { deliveredSeconds: [8, 8, 8, 8, 8, 4] } },
    });
    expect(dataOf(delivered).entries[0]).toMatchObject({ type: 'DEPOSIT_RECONCILIATION', amount: '4', balanceAfter: '116' });
    const balance = await as(api.reader).GET('/v1/accounts/{accountId}/balance', { params: { path } });
    expect(balance.response.status).toBe(200);
    expect(dataOf(balance)).toMatchObject({ available: '116', outstanding: '0', inFlightDeposits: { count: 0, amount: '0' } });
  });

  it('a retry replays the first reply; the same key with another body is 409; writes need a key', async () => {
    const host = as(api.service);
    const accountId = await openUser();
    const path = { accountId };
    await host.POST('/v1/accounts/{accountId}/purchases', { params: { path, header: key() }, body: { amount: 30 } });
    const first = await host.POST('/v1/accounts/{accountId}/usage', { params: { path, header: key('img-1') }, body: { charge: { action: 'image', quantity: 2 } } });
    const retry = await host.POST('/v1/accounts/{accountId}/usage', { params: { path, header: key('img-1') }, body: { charge: { action: 'image', quantity: 2 } } });
    expect(retry.response.status).toBe(first.response.status);
    expect(retry.data).toEqual(first.data);
    expect(retry.response.headers.get('idempotent-replayed')).toBe('true');
    expect(first.response.headers.get('idempotent-replayed')).toBeNull();
    const conflict = await host.POST('/v1/accounts/{accountId}/usage', { params: { path, header: key('img-1') }, body: { charge: { action: 'image', quantity: 3 } } });
    expect(refusal(conflict)).toEqual([409, 'IDEMPOTENCY_CONFLICT']);
    const keyless = await client(api.baseUrl, api.service)('POST', `/v1/accounts/${accountId}/usage`, { body: { charge: { action: 'image' } } });
    expect([keyless.status, keyless.body.error.code]).toEqual([400, 'IDEMPOTENCY_KEY_REQUIRED']);
    expect(dataOf(await as(api.reader).GET('/v1/accounts/{accountId}/balance', { params: { path } })).available).toBe('24');
  });

  it('tokens: none or unknown is 401, revoked is 401, the wrong scope is 403', async () => {
    const accountId = await openUser();
    const path = { accountId };
    const balanceAs = (token?: string) => as(token).GET('/v1/accounts/{accountId}/balance', { params: { path } });
    expect(refusal(await balanceAs())).toEqual([401, 'UNAUTHENTICATED']);
    expect(refusal(await balanceAs('ck_not-a-real-token-at-all'))).toEqual([401, 'UNAUTHENTICATED']);
    const reader = await as(api.reader).POST('/v1/accounts/{accountId}/purchases', { params: { path, header: key() }, body: { amount: 5 } });
    expect(refusal(reader)).toEqual([403, 'FORBIDDEN']);
    const serviceOnAdmin = await as(api.service).POST('/v1/admin/accounts/{accountId}/adjustments', { params: { path, header: key() }, body: { amount: 5, reason: 'x' } });
    expect(refusal(serviceOnAdmin)).toEqual([403, 'FORBIDDEN']);
    const temporary = await createApiToken(ctx, { name: 'temp', scopes: ['READ'], actor: staff });
    expect((await balanceAs(temporary.secret)).response.status).toBe(200);
    await revokeApiToken(ctx, { tokenId: temporary.id, actor: staff });
    expect((await balanceAs(temporary.secret)).response.status).toBe(401);
  });

  it("an organisation's token cannot see or touch another organisation's accounts", async () => {
    const host = as(api.service);
    const [acme, globex] = ['acme', 'globex'].map((name) => `${name}-${randomUUID()}`);
    for (const externalId of [acme!, globex!]) {
      await host.POST('/v1/accounts', { params: { header: key() }, body: { owner: { kind: 'ORGANISATION', externalId, name: externalId } } });
    }
    const globexClient = dataOf(
      await host.POST('/v1/accounts', { params: { header: key() }, body: { owner: { kind: 'CLIENT', organisationExternalId: globex!, externalId: 'c1', name: 'Client' } } }),
    );
    const acmeHost = as((await createApiToken(ctx, { name: 'acme', scopes: ['SERVICE', 'READ'], organisationExternalId: acme!, actor: staff })).secret);
    const read = await acmeHost.GET('/v1/accounts/{accountId}/balance', { params: { path: { accountId: globexClient.accountId } } });
    expect(refusal(read)).toEqual([404, 'ACCOUNT_NOT_FOUND']);
    const write = await acmeHost.POST('/v1/accounts/{accountId}/purchases', { params: { path: { accountId: globexClient.accountId }, header: key() }, body: { amount: 5 } });
    expect(refusal(write)).toEqual([404, 'ACCOUNT_NOT_FOUND']);
    const open = await acmeHost.POST('/v1/accounts', { params: { header: key() }, body: { owner: { kind: 'CLIENT', organisationExternalId: globex!, externalId: 'c2', name: 'Sneaky' } } });
    expect(refusal(open)).toEqual([403, 'FORBIDDEN']);
    const own = await acmeHost.POST('/v1/accounts', { params: { header: key() }, body: { owner: { kind: 'CLIENT', organisationExternalId: acme!, externalId: 'c1', name: 'Mine' } } });
    expect(own.response.status).toBe(201);
    expect((await acmeHost.GET('/v1/accounts/{accountId}/balance', { params: { path: { accountId: dataOf(own).accountId } } })).response.status).toBe(200);
  });

  it('bad input is a 4xx with a stable code, writes nothing, and never shows a stack trace', async () => {
    const host = as(api.service);
    const call = client(api.baseUrl, api.service);
    const accountId = await openUser();
    const path = { accountId };
    await host.POST('/v1/accounts/{accountId}/purchases', { params: { path, header: key() }, body: { amount: 10 } });
    // Sent raw: the typed client cannot make these requests.
    const cases: [string, Parameters<typeof call>[2], number, string][] = [
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
    const missing = await host.POST('/v1/accounts/{accountId}/usage', { params: { path: { accountId: randomUUID() }, header: key() }, body: { charge: { action: 'image' } } });
    expect(refusal(missing)).toEqual([404, 'ACCOUNT_NOT_FOUND']);
    expect(refusal(await host.GET('/v1/accounts/{accountId}/balance', { params: { path: { accountId: 'not-an-id' } } }))).toEqual([400, 'VALIDATION_FAILED']);
    const broke = await host.POST('/v1/accounts/{accountId}/usage', { params: { path, header: key() }, body: { charge: { action: 'image', quantity: 4 } } });
    expect([...refusal(broke), broke.error?.error.details]).toEqual([402, 'INSUFFICIENT_CREDITS', { required: '12', available: '10' }]);
    const nowhere = await call('GET', '/v1/nowhere');
    expect([nowhere.status, nowhere.body.error.code]).toEqual([404, 'NOT_FOUND']);
    expect(dataOf(await as(api.reader).GET('/v1/accounts/{accountId}/balance', { params: { path } })).available).toBe('10');
  });

  it('reads: activity with filters and cursors, the group behind a row, daily and monthly usage, /why, CSV', async () => {
    const host = as(api.service);
    const read = as(api.reader);
    const accountId = await openUser();
    const path = { accountId };
    const expiresAt = new Date(Date.now() + 30 * 86_400_000).toISOString();
    await host.POST('/v1/accounts/{accountId}/grants', { params: { path, header: key() }, body: { type: 'PLAN_GRANT', bucket: 'PLAN', amount: 325, expiresAt } });
    for (let i = 0; i < 3; i++) await host.POST('/v1/accounts/{accountId}/usage', { params: { path, header: key() }, body: { charge: { action: 'image', quantity: 1 } } });
    await host.POST('/v1/accounts/{accountId}/usage', { params: { path, header: key() }, body: { charge: { action: 'chat', quantity: 5 } } });
    const page = dataOf(await read.GET('/v1/accounts/{accountId}/activity', { params: { path, query: { pageSize: 2 } } }));
    expect(page.showing).toEqual({ from: 1, to: 2, total: 3 });
    expect(page.rows.map((r) => [r.category, r.amount, r.count])).toEqual([
      ['Chat', '-5', 1],
      ['Image generation', '-9', 3],
    ]);
    const next = dataOf(await read.GET('/v1/accounts/{accountId}/activity', { params: { path, query: { pageSize: 2, cursor: page.next! } } }));
    expect(next.rows[0]!.label).toBe('Monthly grant');
    const used = dataOf(await read.GET('/v1/accounts/{accountId}/activity', { params: { path, query: { filter: 'USED', types: 'USAGE', from: '2020-01-01' } } }));
    expect(used.showing.total).toBe(2);
    const group = await read.GET('/v1/accounts/{accountId}/activity/groups/{seq}', { params: { path: { accountId, seq: page.rows[1]!.seq } } });
    expect(dataOf(group).map((e) => e.amount)).toEqual(['-3', '-3', '-3']);
    const daily = dataOf(await read.GET('/v1/accounts/{accountId}/usage/daily', { params: { path, query: { timeZone: 'Asia/Kolkata' } } }));
    expect(daily).toMatchObject({ timeZone: 'Asia/Kolkata', total: '14' });
    expect(daily.days).toHaveLength(30);
    const monthly = dataOf(await read.GET('/v1/accounts/{accountId}/usage/monthly', { params: { path } }));
    expect(monthly.months[0]).toMatchObject({ current: true, used: '14', transactions: 4 });
    const why = dataOf(await read.GET('/v1/accounts/{accountId}/why', { params: { path, query: { expectedBalance: '325' } } }));
    expect(why).toMatchObject({ addsUp: true, total: '311', end: { balance: '311' }, gap: { kind: 'WAS_EXPECTED_AFTER', change: '-14' } });
    const csv = await read.GET('/v1/accounts/{accountId}/activity.csv', { params: { path, query: { filter: 'USED' } }, parseAs: 'text' });
    expect(csv.response.status).toBe(200);
    expect(csv.response.headers.get('content-type')).toMatch(/text\/csv/);
    expect(dataOf(csv).trim().split('\r\n')).toHaveLength(5);
    // Sent raw: values the document does not allow.
    for (const bad of ['filter=SPENT', 'pageSize=0', 'from=yesterday', 'types=GIFT', 'surprise=1']) {
      const reply = await client(api.baseUrl, api.reader)('GET', `/v1/accounts/${accountId}/activity?${bad}`);
      expect([bad, reply.status, reply.body.error.code]).toEqual([bad, 400, 'VALIDATION_FAILED']);
    }
    expect(refusal(await read.GET('/v1/accounts/{accountId}/usage/daily', { params: { path, query: { timeZone: 'Mars/Olympus' } } }))).toEqual([400, 'VALIDATION_FAILED']);
    expect(refusal(await read.GET('/v1/accounts/{accountId}/why', { params: { path, query: { expectedBalance: 'lots' } } }))).toEqual([400, 'VALIDATION_FAILED']);
  });

  it('staff adjust with a reason, as themselves; the audit log says who, what, why and from where', async () => {
    const accountId = await openUser();
    const path = { accountId };
    const support = as(api.admin);
    const empty = await support.POST('/v1/admin/accounts/{accountId}/adjustments', { params: { path, header: key() }, body: { amount: 25, reason: '  ' } });
    expect(refusal(empty)).toEqual([400, 'REASON_REQUIRED']);
    const adjusted = await support.POST('/v1/admin/accounts/{accountId}/adjustments', {
      params: { path, header: key() },
      body: { amount: 25, reason: 'Compensation for a delivery miss' },
      headers: { 'user-agent': 'support-console/1.0' },
    });
    expect(adjusted.response.status).toBe(201);
    expect(dataOf(adjusted).entries[0]).toMatchObject({ type: 'ADJUSTMENT', amount: '25', note: 'Compensation for a delivery miss', actor: { kind: 'STAFF', id: 'ana@support' } });
    const off = await support.POST('/v1/admin/accounts/{accountId}/write-offs', { params: { path, header: key() }, body: { amount: 5, reason: 'Duplicate' } });
    expect(dataOf(off).entries[0]).toMatchObject({ type: 'WRITE_OFF', amount: '-5' });
    const used = landed(dataOf(await as(api.service).POST('/v1/accounts/{accountId}/usage', { params: { path, header: key() }, body: { charge: { action: 'image', quantity: 2 } } })));
    const entryId = used.entries[0]!.id;
    const unexplained = await support.POST('/v1/accounts/{accountId}/refunds', { params: { path, header: key() }, body: { entryId } });
    expect(refusal(unexplained)).toEqual([400, 'REASON_REQUIRED']);
    const refunded = await support.POST('/v1/accounts/{accountId}/refunds', { params: { path, header: key() }, body: { entryId, reason: 'Blurry images' } });
    expect(dataOf(refunded).entries[0]).toMatchObject({ type: 'REFUND', amount: '6', actor: { kind: 'STAFF', id: 'ana@support' } });
    const audit = dataOf(await support.GET('/v1/admin/audit', { params: { query: { accountId } } }));
    expect(audit.rows.map((r) => [r.action, r.reason, r.actor.id])).toEqual([
      ['refund', 'Blurry images', 'ana@support'],
      ['writeOff', 'Duplicate', 'ana@support'],
      ['adjust', 'Compensation for a delivery miss', 'ana@support'],
    ]);
    expect(audit.rows[2]!.origin).toMatchObject({ transport: 'http', userAgent: 'support-console/1.0', requestId: adjusted.response.headers.get('x-request-id') });
    expect((audit.rows[2]!.details as { entries: unknown[] }).entries[0]).toMatchObject({ type: 'ADJUSTMENT', amount: '25' });
    const found = await support.GET('/v1/admin/accounts', { params: { query: { search: accountId } } });
    expect(dataOf(found)).toEqual([expect.objectContaining({ accountId, balance: '20' })]);
  });

  it('health, readiness, and an OpenAPI document that validates, lists every route and describes every reply', async () => {
    const anonymous = client(api.baseUrl);
    expect((await anonymous('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await anonymous('GET', '/readyz')).body).toEqual({ status: 'ready', pending: [] });
    const document = (await anonymous('GET', '/v1/openapi.json')).body;
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const operations = Object.entries(document.paths as Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema?: object }> }> }>>).flatMap(
      ([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ name: `${method} ${path}`, operation })),
    );
    expect(operations.map((o) => o.name).sort()).toEqual(apiRoutes.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`).sort());
    for (const { name, operation } of operations) {
      const schemas = Object.values(operation.responses).flatMap((reply) => Object.values(reply.content).map((media) => media.schema ?? {}));
      expect([name, schemas.filter((schema) => Object.keys(schema).length === 0)]).toEqual([name, []]);
    }
    const usage = document.paths['/v1/accounts/{accountId}/usage'].post;
    expect(usage.parameters.map((p: { name: string; required: boolean }) => [p.name, p.required])).toEqual([['accountId', true], ['dryRun', false], ['Idempotency-Key', false]]);
    expect(Object.keys(usage.requestBody.content['application/json'].schema.properties)).toEqual(['charge', 'discountPercent', 'source', 'note', 'occurredAt']);
    expect(usage.responses['201'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/UsageWrite' });
    expect(usage.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/UsageQuote' });
    expect(Object.keys(usage.responses['201'].headers)).toEqual(['x-request-id', 'Idempotent-Replayed']);
    expect(Object.keys(usage.responses.default.headers)).toEqual(['x-request-id', 'Retry-After']);
    expect(document.components.schemas.Entry.properties.amount).toEqual({ $ref: '#/components/schemas/Credits' });
  });
});
