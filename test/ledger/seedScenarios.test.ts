import { describe, expect, it } from 'vitest';
import { getBalance } from '../../core/ledger/getBalance.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { reconcileDeposit } from '../../core/ledger/reconcileDeposit.js';
import { spend } from '../../core/ledger/spend.js';
import { engines } from '../support/databases.js';
import { balanceOf, expectError, key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';

describe.each(engines)('seed scenarios on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  it('a creative with a 6 clip showcase at 8 seconds each is a single -88 entry', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 200n });
    const result = await spend(ctx, {
      accountId,
      idempotencyKey: key(),
      actor: service,
      charge: { action: 'submission', clipSeconds: [8, 8, 8, 8, 8, 8] },
      source: { kind: 'creative', id: 'cr_1', url: 'https://studio.example/creatives/cr_1' },
    });
    expect(result.entries).toHaveLength(1);
    expect(result.entries[0]).toMatchObject({ type: 'DEPOSIT', amount: -88n, balanceAfter: 112n });
    expect(result.depositId).not.toBeNull();
    expect((await getBalance(ctx, { accountId })).inFlightDeposits).toEqual({ count: 1, amount: 88n });
  });

  it('clips are clamped to 4–12 seconds for the deposit', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    const result = await spend(ctx, {
      accountId,
      idempotencyKey: key(),
      actor: service,
      charge: { action: 'submission', clipSeconds: [2, 30] }, // 4 + 12
    });
    expect(result.entries[0]!.amount).toBe(-56n);
  });

  it('image generation costs 3 credits per image; animation in the free beta shows no cost', async () => {
    const accountId = await newUserAccount(ctx);
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'WEEKLY_GRANT', bucket: 'WEEKLY', amount: 12n, expiresAt: new Date(Date.now() + 7 * 86_400_000) });
    const images = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 2 } });
    expect(images.entries[0]).toMatchObject({ type: 'USAGE', category: 'Image generation', amount: -6n, balanceAfter: 6n });
    const animation = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'animation' } });
    expect(animation.entries[0]).toMatchObject({ category: 'Animation generation', amount: 0n, balanceAfter: 6n });
  });

  it('a persona batch is 9 images, a re-roll 2 credits', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 50n });
    const batch = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'persona_batch' } });
    expect(batch.entries[0]!.amount).toBe(-27n);
    const rerolls = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'reroll', quantity: 3 } });
    expect(rerolls.entries[0]!.amount).toBe(-6n);
    expect(await balanceOf(ctx, accountId)).toBe(17n);
  });

  it('a discounted usage row keeps the original amount and the percent off', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    const result = await spend(ctx, {
      accountId,
      idempotencyKey: key(),
      actor: service,
      charge: { amount: 40n, category: 'AI usage', description: 'Build step' },
      discountPercent: 25,
    });
    expect(result.entries[0]).toMatchObject({ amount: -30n, originalAmount: -40n, discountPercent: 25 });
  });

  it('renewal resets plan credits, purchased credits are untouched', async () => {
    const accountId = await newUserAccount(ctx);
    // A plan bucket that has just run out of cycle: granted by hand with an expiry in the past is
    // impossible, so grant one that expires in a moment and let it pass.
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'PLAN_GRANT', bucket: 'PLAN', amount: 325n, expiresAt: new Date(Date.now() + 1500) });
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 50n });
    const used = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 212n, category: 'Chat', description: 'Chat turns' } });
    // Plan credits go first: purchased credits untouched.
    expect(used.entries[0]!.movements).toHaveLength(1);
    expect((await getBalance(ctx, { accountId })).buckets.map((b) => [b.kind, b.remaining])).toEqual([
      ['PLAN', 113n],
      ['PURCHASED', 50n],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    // Expired plan credits can no longer be spent, even before anything sweeps them.
    expect((await getBalance(ctx, { accountId })).available).toBe(50n);
    await expectError(
      spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 51n, category: 'Chat', description: 'one over what is live' } }),
      'INSUFFICIENT_CREDITS',
    );
    const renewal = await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'PLAN_GRANT', bucket: 'PLAN', amount: 325n, expiresAt: new Date(Date.now() + 30 * 86_400_000) });
    expect(renewal.entries).toHaveLength(1);
    const entries = await ctx.db.prisma.entry.findMany({ where: { accountId }, orderBy: { seq: 'asc' } });
    expect(entries.map((e) => [e.type, e.amount, e.balanceAfter])).toEqual([
      ['PLAN_GRANT', 325n, 325n],
      ['PURCHASE', 50n, 375n],
      ['USAGE', -212n, 163n],
      ['EXPIRY', -113n, 50n],
      ['PLAN_GRANT', 325n, 375n],
    ]);
    expect(entries[3]!.description).toBe('113 unused plan credits expired');
  });

  it('a deposit refunded, overrun, and left outstanding', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 200n });
    const submit = (clips: number[]) =>
      spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'submission', clipSeconds: clips } });

    // Refunded: 48 s deposited, 44 s delivered → +4.
    const first = await submit([8, 8, 8, 8, 8, 8]);
    const refunded = await reconcileDeposit(ctx, { accountId, idempotencyKey: key(), actor: service, depositId: first.depositId!, actual: { deliveredSeconds: [8, 8, 8, 8, 8, 4] } });
    expect(refunded.entries[0]).toMatchObject({ type: 'DEPOSIT_RECONCILIATION', amount: 4n, balanceAfter: 116n });

    // Overrun covered by the balance: 12 s deposited (clamped), 15 s delivered → -3.
    const second = await submit([20]);
    expect(second.entries[0]!.amount).toBe(-52n);
    const overrun = await reconcileDeposit(ctx, { accountId, idempotencyKey: key(), actor: service, depositId: second.depositId!, actual: { deliveredSeconds: [15] } });
    expect(overrun.entries[0]).toMatchObject({ amount: -3n, balanceAfter: 61n, outstandingAfter: 0n });

    // Overrun the balance cannot cover: 61 left, a 56 submission leaves 5, delivery 7 s over → 5 charged, 2 outstanding.
    const third = await submit([4, 12]);
    expect(third.entries[0]!.balanceAfter).toBe(5n);
    const short = await reconcileDeposit(ctx, { accountId, idempotencyKey: key(), actor: service, depositId: third.depositId!, actual: { deliveredSeconds: [4, 19] } });
    expect(short.entries[0]).toMatchObject({ amount: -5n, balanceAfter: 0n, outstandingAfter: 2n });

    // The next addition pays what is owed first.
    const topUp = await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 50n });
    expect(topUp.entries.map((e) => [e.type, e.amount, e.balanceAfter, e.outstandingAfter])).toEqual([
      ['PURCHASE', 50n, 50n, 2n],
      ['OUTSTANDING_SETTLEMENT', -2n, 48n, 0n],
    ]);
    expect(topUp.balance).toBe(48n);
  });
});
