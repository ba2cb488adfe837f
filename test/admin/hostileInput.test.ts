import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apiRoutes } from '../../admin/app.js';
import { dispatch } from '../../bot/dispatch.js';
import { commands } from '../../bot/commands/index.js';
import { pino } from 'pino';
import { client, useApi } from '../support/api.js';
import { expectLedgerSound, useFreshLedger } from '../support/scenario.js';

/**
 * Random and hostile input at every HTTP route and every chat command: whatever arrives, the
 * answer is a 4xx (or a success) with a stable code, never a 5xx, and the ledger stays sound.
 */
const hostileValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', '-1', '0', '1e309', '9'.repeat(40), 'NaN', '__proto__', 'constructor', '<script>', "'; DROP TABLE entries; --", '\u0000', '😀'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
);

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
