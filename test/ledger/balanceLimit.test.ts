import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { adjust } from '../../core/ledger/adjust.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { client, useApi } from '../support/api.js';
import { engines } from '../support/databases.js';
import { balanceOf, entryCount, expectError, key, newUserAccount, service, staff, useFreshLedger } from '../support/scenario.js';

const maxBalance = 1_000_000_000_000_000n; // 10^15

describe.each(engines)('the maximum balance of 10^15 credits on %s', (engine) => {
  const ctx = useFreshLedger(engine);
  const api = useApi(ctx);

  it('a purchase of 10^15 fills an empty account exactly; one more credit, by purchase, grant or adjustment, is refused and writes nothing', async () => {
    const accountId = await newUserAccount(ctx);
    const full = await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: maxBalance });
    expect(full.balance).toBe(maxBalance);
    const refused = await expectError(purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 1n }), 'BALANCE_LIMIT_EXCEEDED');
    expect(refused.details).toEqual({ balance: '1000000000000000', amount: '1', maxBalance: '1000000000000000' });
    await expectError(grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 1n }), 'BALANCE_LIMIT_EXCEEDED');
    await expectError(adjust(ctx, { accountId, idempotencyKey: key(), actor: staff, amount: 1n, reason: 'goodwill' }), 'BALANCE_LIMIT_EXCEEDED');
    expect(await entryCount(ctx, accountId)).toBe(1);
    expect(await balanceOf(ctx, accountId)).toBe(maxBalance);

    // Spend 6 and exactly 6 fit again: 10^15 - 6 + 6 is the maximum, accepted.
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 2 } });
    expect((await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 6n })).balance).toBe(maxBalance);
    await expectError(purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 1n }), 'BALANCE_LIMIT_EXCEEDED');
    expect(await entryCount(ctx, accountId)).toBe(3);
  });

  it('ten purchases of 10^15 at once on one account: one lands, nine are refused alone, none is a 500', async () => {
    const accountId = await newUserAccount(ctx);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () => purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: maxBalance })),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason.code] : []))).toEqual(Array(9).fill('BALANCE_LIMIT_EXCEEDED'));
    expect(await balanceOf(ctx, accountId)).toBe(maxBalance);
  });

  it('over HTTP: POST purchases up to 10^15 is 201, one credit past it is 409 BALANCE_LIMIT_EXCEEDED', async () => {
    const call = client(api.baseUrl, api.service);
    const opened = await call('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'USER', externalId: `u-${randomUUID()}` } } });
    const accountId = opened.body.accountId as string;
    const almost = await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), body: { amount: '999999999999999' } });
    expect([almost.status, almost.body.balance]).toEqual([201, '999999999999999']);
    const exactly = await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), body: { amount: 1 } });
    expect([exactly.status, exactly.body.balance]).toEqual([201, '1000000000000000']);
    const over = await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), body: { amount: 1 } });
    expect([over.status, over.body.error.code]).toEqual([409, 'BALANCE_LIMIT_EXCEEDED']);
    expect(await entryCount(ctx, accountId)).toBe(2);
  });
});
