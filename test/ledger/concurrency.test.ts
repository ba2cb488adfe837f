import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoreContext } from '../../core/context.js';
import { isCreditkeeperError } from '../../core/errors.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { engines, freshContext } from '../support/databases.js';
import { balanceOf, expectLedgerSound, key, newUserAccount, service } from '../support/scenario.js';

describe.each(engines)('concurrent writers on %s', (engine) => {
  let ctx: CoreContext;
  beforeAll(async () => {
    // More connections than a typical pool, so spends truly race on PostgreSQL.
    ctx = await freshContext(engine, 24);
  });
  afterAll(async () => {
    await expectLedgerSound(ctx);
    await ctx.db.close();
  });

  it('60 concurrent spends of 3 on a balance of 100: exactly 33 succeed, none overdraw, entries sum to the balance', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) =>
        spend(ctx, { accountId, idempotencyKey: `image-${i}`, actor: service, charge: { action: 'image', quantity: 1 } }),
      ),
    );
    const succeeded = outcomes.filter((o) => o.status === 'fulfilled');
    const denied = outcomes.filter((o) => o.status === 'rejected' && isCreditkeeperError(o.reason, 'INSUFFICIENT_CREDITS'));
    expect(succeeded).toHaveLength(33);
    expect(denied).toHaveLength(27);
    expect(await balanceOf(ctx, accountId)).toBe(1n);
    const entries = await ctx.db.prisma.entry.findMany({ where: { accountId }, orderBy: { seq: 'asc' } });
    expect(entries.reduce((sum, e) => sum + e.amount, 0n)).toBe(1n);
    expect(entries.map((e) => e.balanceAfter)).toEqual([100n, ...Array.from({ length: 33 }, (_, i) => 100n - 3n * BigInt(i + 1))]);
  });

  it('purchases and spends interleaved on many accounts lose no update', async () => {
    const accounts = await Promise.all(Array.from({ length: 5 }, () => newUserAccount(ctx)));
    await Promise.all(
      accounts.flatMap((accountId, a) =>
        Array.from({ length: 12 }, (_, i) =>
          i % 3 === 0
            ? purchase(ctx, { accountId, idempotencyKey: `buy-${a}-${i}`, actor: service, amount: 9n })
            : spend(ctx, { accountId, idempotencyKey: `use-${a}-${i}`, actor: service, charge: { action: 'chat', quantity: 1 } }).catch(
                (e: unknown) => {
                  if (!isCreditkeeperError(e, 'INSUFFICIENT_CREDITS')) throw e;
                },
              ),
        ),
      ),
    );
    for (const accountId of accounts) {
      const entries = await ctx.db.prisma.entry.findMany({ where: { accountId } });
      expect(await balanceOf(ctx, accountId)).toBe(entries.reduce((sum, e) => sum + e.amount, 0n));
    }
  });
});
