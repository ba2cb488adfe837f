import { describe, expect, it } from 'vitest';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { engines } from '../support/databases.js';
import { balanceOf, entryCount, expectError, key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';

describe.each(engines)('idempotency on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  it('a retry with the same key and input returns the first result and moves nothing', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 30n });
    const request = { accountId, idempotencyKey: 'render-7', actor: service, charge: { action: 'image', quantity: 3 } } as const;
    const first = await spend(ctx, request);
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 1 } });
    const retry = await spend(ctx, request);
    expect(first.replayed).toBe(false);
    expect(retry.replayed).toBe(true);
    expect(retry.entries).toEqual(first.entries);
    expect(retry.balance).toBe(21n); // the balance as the first attempt left it
    expect(await balanceOf(ctx, accountId)).toBe(18n);
    expect(await entryCount(ctx, accountId)).toBe(3);
  });

  it('the same key with a different input is IDEMPOTENCY_CONFLICT and writes nothing', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: 'order-1', actor: service, amount: 30n });
    await expectError(purchase(ctx, { accountId, idempotencyKey: 'order-1', actor: service, amount: 31n }), 'IDEMPOTENCY_CONFLICT');
    await expectError(
      spend(ctx, { accountId, idempotencyKey: 'order-1', actor: service, charge: { action: 'image', quantity: 1 } }),
      'IDEMPOTENCY_CONFLICT',
    );
    expect(await balanceOf(ctx, accountId)).toBe(30n);
  });

  it('equivalent inputs are the same request: 5, 5n and "5" hash alike, field order does not matter', async () => {
    const accountId = await newUserAccount(ctx);
    const first = await purchase(ctx, { accountId, idempotencyKey: 'p', actor: service, amount: 5 });
    const again = await purchase(ctx, { amount: '5', actor: service, idempotencyKey: 'p', accountId } as never);
    expect(again.replayed).toBe(true);
    expect(again.entries[0]!.id).toBe(first.entries[0]!.id);
  });

  it('keys are per account: the same key on two accounts is two operations', async () => {
    const a = await newUserAccount(ctx);
    const b = await newUserAccount(ctx);
    await purchase(ctx, { accountId: a, idempotencyKey: 'shared', actor: service, amount: 7n });
    const onB = await purchase(ctx, { accountId: b, idempotencyKey: 'shared', actor: service, amount: 7n });
    expect(onB.replayed).toBe(false);
  });

  it('concurrent retries of one key move money once', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    const request = { accountId, idempotencyKey: 'double-click', actor: service, charge: { action: 'image', quantity: 5 } } as const;
    const results = await Promise.all(Array.from({ length: 10 }, () => spend(ctx, request)));
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(new Set(results.map((r) => r.entries[0]!.id)).size).toBe(1);
    expect(await balanceOf(ctx, accountId)).toBe(85n);
  });

  it('a denied spend is not remembered: the retry after a top-up goes through', async () => {
    const accountId = await newUserAccount(ctx);
    const request = { accountId, idempotencyKey: 'needs-topup', actor: service, charge: { action: 'image', quantity: 2 } } as const;
    await expectError(spend(ctx, request), 'INSUFFICIENT_CREDITS');
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 10n });
    expect((await spend(ctx, request)).entries[0]!.amount).toBe(-6n);
  });
});
