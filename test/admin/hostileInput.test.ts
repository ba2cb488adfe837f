import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apiRoutes } from '../../admin/app.js';
import type { Route } from '../../admin/route.js';
import { errorCodes } from '../../core/errors.js';
import { dispatch } from '../../bot/dispatch.js';
import { commands } from '../../bot/commands/index.js';
import { pino } from 'pino';
import { client, useApi } from '../support/api.js';
import { expectLedgerSound, useFreshLedger } from '../support/scenario.js';

/**
 * Random and hostile input at every HTTP route and every chat command: whatever arrives, the
 * answer is a 4xx (or a success) with a stable code, never a 5xx, and the ledger stays sound.
 */

/** Text PostgreSQL cannot store: lone UTF-16 surrogates, alone or inside other text. */
const loneSurrogate = fc
  .tuple(fc.string({ maxLength: 6 }), fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '\udc00\ud800'), fc.string({ maxLength: 6 }))
  .map(([before, surrogate, after]) => `${before}${surrogate}${after}`);
/** A lone surrogate cannot be percent-encoded as UTF-8: these are its bytes as WTF-8 would write them. */
const surrogateInPath = fc.constantFrom('%ED%A0%80', '%ED%BF%BF', 'a%ED%B0%80b', '%ED%A0%80%ED%B0%80');
/** Dates outside what PostgreSQL's timestamptz and the ledger's 1970–9999 range hold. */
const extremeDate = fc.constantFrom(
  '0000-01-01',
  '0001-01-01T00:00:00Z',
  '1969-12-31T23:59:59.999Z',
  '+010000-01-01T00:00:00.000Z',
  '+275760-09-13T00:00:00.000Z',
  '-271821-04-20T00:00:00.000Z',
);
/** Row numbers and amounts beyond bigint, and JSON numbers past 2^53. */
const hugeNumber = fc.constantFrom('9223372036854775808', '18446744073709551616', '99999999999999999999', '-9223372036854775809');
const hugeJsonNumber = fc.constantFrom(1e16, 2 ** 63, 1e300, -1e16, 9007199254740993);

const hostileValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', '-1', '0', '1e309', '9'.repeat(40), 'NaN', '__proto__', 'constructor', '<script>', "'; DROP TABLE entries; --", '\u0000', '😀'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
  loneSurrogate,
  extremeDate,
  hugeNumber,
  hugeJsonNumber,
);

/** A body that is not what its headers say: compressed when it is not, or in a charset JSON is not. */
const wrongEncoding = fc.constantFrom<Record<string, string>>(
  { 'content-encoding': 'gzip' },
  { 'content-encoding': 'deflate' },
  { 'content-encoding': 'br' },
  { 'content-encoding': 'gzip, identity' },
  { 'content-encoding': 'compress' },
  { 'content-type': 'application/json; charset=latin1' },
  { 'content-type': 'application/json; charset=utf-16' },
);

const bodyFields = ['amount', 'charge', 'reason', 'note', 'owner', 'type', 'bucket', 'expiresAt', 'source', 'held', 'anchorAt', 'plan', 'timeZone', 'monthlyLimit', 'externalId', 'provider'];
const paramNames = (route: Route) => [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
/** Which of `names` the route's query takes. */
const queryNames = (route: Route, names: string[]) => {
  const shape = route.query && 'shape' in route.query ? (route.query.shape as Record<string, unknown>) : {};
  return names.filter((name) => name in shape);
};

describe('hostile input (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const api = useApi(ctx);

  it('never gets a 5xx from any route', async () => {
    const call = client(api.baseUrl, api.service);
    const opened = await call('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'USER', externalId: 'target' } } });
    const accountId = opened.body.accountId as string;
    await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), body: { amount: 1000 } });
    const fieldNames = ['amount', 'charge', 'action', 'quantity', 'clipSeconds', 'reason', 'entryId', 'actual', 'owner', 'type', 'bucket', 'expiresAt', 'source', 'discountPercent', 'held', 'role', 'userExternalId', 'plan', 'timeZone', 'anchorAt', 'enabled', 'monthlyLimit', 'provider', 'externalId'];
    const body = fc.oneof(
      hostileValue,
      fc.dictionary(fc.constantFrom(...fieldNames), hostileValue, { maxKeys: 4 }),
      fc.record({ charge: fc.dictionary(fc.constantFrom('action', 'quantity', 'clipSeconds', 'amount', 'category', 'description'), hostileValue, { maxKeys: 3 }) }),
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...apiRoutes),
        fc.constantFrom(accountId, randomUUID(), 'not-an-id', '..%2F..', '%00'),
        body,
        fc.dictionary(fc.constantFrom('filter', 'types', 'pageSize', 'cursor', 'from', 'to', 'since', 'expectedBalance', 'timeZone', 'days', 'search', 'transaction_id', 'user_id', 'key_id', 'signature', 'x'), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
        fc.option(fc.string({ maxLength: 30 })),
        async (route, id, payload, query, key) => {
          const path = route.path.replace(/:(\w+)/g, (_m, name: string) => (name === 'accountId' ? id : name === 'seq' ? '1' : encodeURIComponent(String(id))));
          const search = new URLSearchParams(query).toString();
          const reply = await call(route.method.toUpperCase(), `${path}${search ? `?${search}` : ''}`, {
            ...(route.method === 'post' && { raw: JSON.stringify(payload) ?? 'null' }),
            ...(key !== null && { headers: { 'idempotency-key': key } }),
          });
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
          expect(reply.status, `${route.method} ${path} → ${reply.text}`).toBeLessThan(500);
          if (reply.status >= 400) expect(reply.body?.error?.code).toEqual(expect.any(String));
        },
      ),
      { numRuns: Number(process.env.HOSTILE_RUNS ?? 400) },
    );
    expect([...statuses.keys()].some((s) => s >= 400)).toBe(true);
    await expectLedgerSound(ctx);
  });

  it('surrogates, extreme dates, huge ids and wrong encodings on every route: a 4xx with a stable code, and the ledger unchanged', async () => {
    const call = client(api.baseUrl, api.service);
    const opened = await call('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'USER', externalId: 'hostile-target' } } });
    const accountId = opened.body.accountId as string;
    await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), body: { amount: 1000 } });
    const ledger = async () =>
      (await ctx.db.sql.query<{ state: string }>(`SELECT (SELECT count(*) FROM entries) || ':' || (SELECT coalesce(sum(amount), 0) FROM entries) || ':' || (SELECT count(*) FROM accounts) AS state`))[0]!.state;
    const before = await ledger();
    const tokenFor = (route: Route) =>
      route.scopes === 'public' ? undefined : route.scopes.some((scope) => scope === 'SERVICE' || scope === 'READ') ? api.service : api.admin;
    // Where a hostile value goes: somewhere the route reads, so the route itself must refuse it.
    const injection = (route: Route) => {
      const places = [
        ...paramNames(route).map((name) => fc.record({ at: fc.constant('param' as const), name: fc.constant(name), value: fc.oneof(hugeNumber, surrogateInPath) })),
        ...queryNames(route, ['from', 'to', 'since']).map((name) => fc.record({ at: fc.constant('query' as const), name: fc.constant(name), value: extremeDate })),
        ...queryNames(route, ['pageSize', 'limit', 'days', 'expectedBalance']).map((name) => fc.record({ at: fc.constant('query' as const), name: fc.constant(name), value: hugeNumber })),
        ...(route.method === 'post' && route.body
          ? [
              fc.record({ at: fc.constant('body' as const), name: fc.constantFrom(...bodyFields), value: fc.oneof(loneSurrogate, loneSurrogate.map((label) => ({ label })), loneSurrogate.map((text) => [text])) }),
              fc.record({ at: fc.constant('body' as const), name: fc.constantFrom('expiresAt', 'anchorAt'), value: extremeDate }),
              fc.record({ at: fc.constant('body' as const), name: fc.constantFrom('amount', 'monthlyLimit', 'held'), value: hugeJsonNumber }),
              fc.record({ at: fc.constant('encoding' as const), name: fc.constant(''), value: wrongEncoding }),
            ]
          : []),
      ];
      return places.length ? fc.oneof(...places) : fc.constant(undefined);
    };
    const routeAndInjection = fc.constantFrom(...apiRoutes).chain((route) => fc.tuple(fc.constant(route), injection(route)));
    await fc.assert(
      fc.asyncProperty(routeAndInjection, async ([route, inject]) => {
        if (!inject) return;
        const param = (name: string) => {
          if (inject.at === 'param' && inject.name === name) return String(inject.value);
          return name === 'accountId' ? accountId : name === 'seq' ? '1' : name.endsWith('ExternalId') ? 'hostile-target' : randomUUID();
        };
        const path = route.path.replace(/:(\w+)/g, (_m, name: string) => param(name));
        const query = inject.at === 'query' ? `?${new URLSearchParams({ [inject.name]: String(inject.value) })}` : '';
        const body = inject.at === 'body' ? { [inject.name]: inject.value } : {};
        const reply = await client(api.baseUrl, tokenFor(route))(route.method.toUpperCase(), `${path}${query}`, {
          ...(route.method === 'post' && { raw: JSON.stringify(body) }),
          headers: { 'idempotency-key': randomUUID(), ...(inject.at === 'encoding' && (inject.value as Record<string, string>)) },
        });
        expect(reply.status, `${route.method} ${path}${query} ${JSON.stringify(inject)} → ${reply.text}`).toBeGreaterThanOrEqual(400);
        expect(reply.status, `${route.method} ${path}${query} ${JSON.stringify(inject)} → ${reply.text}`).toBeLessThan(500);
        expect(errorCodes).toContain(reply.body?.error?.code);
      }),
      { numRuns: Number(process.env.HOSTILE_RUNS ?? 400) },
    );
    expect(await ledger()).toBe(before);
    await expectLedgerSound(ctx);
  });

  it('never gets anything but a sentence from any chat command', async () => {
    const logger = pino({ level: 'silent' });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...commands.map((c) => c.name), 'nope'),
        fc.boolean(),
        fc.dictionary(fc.constantFrom('account', 'filter', 'page', 'since', 'expected', 'search', 'amount', 'reason', 'entry', 'bucket', 'expires', 'x'), hostileValue, { maxKeys: 4 }),
        async (name, isStaff, options) => {
          const view = await dispatch(ctx, logger, { transport: 'console', chatUserId: 'target', userExternalId: 'target', isStaff, interactionId: `h-${randomUUID()}` }, name, options);
          expect(view.kind === 'error' ? view.code : 'ok').not.toBe('INTERNAL');
        },
      ),
      { numRuns: Number(process.env.HOSTILE_RUNS ?? 400) },
    );
    await expectLedgerSound(ctx);
  });
});
