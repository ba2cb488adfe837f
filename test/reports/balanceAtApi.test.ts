import { describe, expect, it } from 'vitest';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { client, useApi } from '../support/api.js';
import { engines } from '../support/databases.js';
import { key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';

describe.each(engines)('GET /v1/accounts/{id}/balance?at= on %s', (engine) => {
  const ctx = useFreshLedger(engine);
  const api = useApi(ctx);

  it('answers the balance and buckets at an instant, and refuses one in the future or not a date', async () => {
    const accountId = await newUserAccount(ctx);
    const bought = await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 200n });
    const spent = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 88n, category: 'Submission', description: 'Video submission' } });
    const read = client(api.baseUrl, api.reader);
    const balanceAt = (at: string) => read('GET', `/v1/accounts/${accountId}/balance?at=${encodeURIComponent(at)}`);

    const beforeSpend = await balanceAt(new Date(spent.entries[0]!.createdAt.getTime() - 1).toISOString());
    expect(beforeSpend.status).toBe(200);
    expect(beforeSpend.body).toMatchObject({
      accountId,
      opened: true,
      entry: { seq: '1', createdAt: bought.entries[0]!.createdAt.toISOString() },
      balance: '200',
      available: '200',
      outstanding: '0',
      buckets: [{ kind: 'PURCHASED', remaining: '200', expiresAt: null, expired: false }],
    });
    expect((await balanceAt(spent.entries[0]!.createdAt.toISOString())).body).toMatchObject({ entry: { seq: '2' }, balance: '112', buckets: [{ remaining: '112' }] });
    expect((await balanceAt('2001-01-01')).body).toMatchObject({ opened: false, entry: null, balance: '0', buckets: [] });
    // Without `at`, the same route is still /credits.
    expect((await read('GET', `/v1/accounts/${accountId}/balance`)).body).toMatchObject({ available: '112', kinds: [{ kind: 'PURCHASED' }] });

    const future = await balanceAt(new Date(Date.now() + 3_600_000).toISOString());
    expect([future.status, future.body.error.code, future.body.error.details]).toEqual([400, 'VALIDATION_FAILED', { issues: [{ path: 'at', message: 'is in the future' }] }]);
    expect((await balanceAt('last tuesday')).status).toBe(400);
  });
});
