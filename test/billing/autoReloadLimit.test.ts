import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setAutoReload } from '../../core/billing/autoReloadSettings.js';
import type { CoreContext } from '../../core/context.js';
import { isCreditkeeperError } from '../../core/errors.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { anotherProcess, engines } from '../support/databases.js';
import { LoopbackHost } from './loopbackHost.js';
import { balanceOf, expectError, expectLedgerSound, newUserAccount, service, useFreshLedger } from '../support/scenario.js';

const chargesOn = (ctx: CoreContext, accountId: string) =>
  ctx.db.prisma.entry.findMany({ where: { accountId, type: 'AUTO_RELOAD' } }).then((rows) => rows.length);

describe.each(engines)('auto-reload within its monthly limit on %s', (engine) => {
  const ctx = useFreshLedger(engine, 16);
  const processor = new LoopbackHost();
  // On PostgreSQL a second pool on the same database: another process as far as the server can tell.
  // PGlite is embedded, so there the 64 spends all come from the one process.
  let other: CoreContext;
  beforeAll(async () => {
    await processor.start();
    ctx.payments = processor.gateway();
    other = engine === 'postgres' ? { ...(await anotherProcess(ctx, 16)), payments: processor.gateway() } : ctx;
  });
  afterAll(async () => {
    processor.close();
    if (other !== ctx) await other.db.close();
  });

  /** 64 spends of 40 at once on an empty account, alternating between the two processes. */
  async function spendsAtOnce(accountId: string) {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 64 }, (_, i) =>
        spend(i % 2 === 0 ? ctx : other, {
          accountId,
          idempotencyKey: `${accountId}:chat-${i}`,
          actor: service,
          charge: { amount: 40n, category: 'Chat', description: 'A long chat' },
        }),
      ),
    );
    const codes = outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : isCreditkeeperError(o.reason) ? o.reason.code : String(o.reason)));
    return { succeeded: codes.filter((c) => c === 'ok').length, denied: codes.filter((c) => c === 'INSUFFICIENT_CREDITS').length, codes };
  }

  it('64 spends of 40 at once from two processes, top-ups of 50, a limit of 120: 2 charges (100 ≤ 120), 2 spends, balance 20', async () => {
    const accountId = await newUserAccount(ctx);
    await setAutoReload(ctx, { accountId, enabled: true, amount: 50n, monthlyLimit: 120n });
    const { succeeded, denied } = await spendsAtOnce(accountId);
    expect(processor.chargesFor(accountId) * 50).toBeLessThanOrEqual(120);
    expect(processor.chargesFor(accountId)).toBe(2);
    expect(await chargesOn(ctx, accountId)).toBe(2); // every card charge landed as its top-up
    expect([succeeded, denied]).toEqual([2, 62]);
    expect(await balanceOf(ctx, accountId)).toBe(20n); // 2 × 50 - 2 × 40
    const entries = await ctx.db.prisma.entry.findMany({ where: { accountId } });
    expect(entries.every((e) => e.balanceAfter >= 0n)).toBe(true);
    await expectLedgerSound(ctx);
  });

  it('a limit exactly reachable, 100 = 2 × 50, allows exactly 2 charges; 99 allows 1', async () => {
    const reachable = await newUserAccount(ctx);
    await setAutoReload(ctx, { accountId: reachable, enabled: true, amount: 50n, monthlyLimit: 100n });
    expect((await spendsAtOnce(reachable)).succeeded).toBe(2);
    expect(processor.chargesFor(reachable)).toBe(2);
    expect(await balanceOf(ctx, reachable)).toBe(20n);

    const oneShort = await newUserAccount(ctx);
    await setAutoReload(ctx, { accountId: oneShort, enabled: true, amount: 50n, monthlyLimit: 99n });
    expect((await spendsAtOnce(oneShort)).succeeded).toBe(1);
    expect(processor.chargesFor(oneShort)).toBe(1);
    expect(await balanceOf(ctx, oneShort)).toBe(10n);
    await expectLedgerSound(ctx);
  });

  it('a declined charge gives its room back; a timed-out one keeps it until its spend is retried, which lands the one charge', async () => {
    const accountId = await newUserAccount(ctx);
    await setAutoReload(ctx, { accountId, enabled: true, amount: 50n, monthlyLimit: 50n });
    const chat = (label: string) => ({ accountId, idempotencyKey: `${accountId}:${label}`, actor: service, charge: { amount: 40n, category: 'Chat', description: 'A long chat' } });

    processor.answer = (k) => (k.endsWith(':declined') ? 'decline' : k.endsWith(':slow') ? 'charge late' : 'charge');
    try {
      await expectError(spend(ctx, chat('declined')), 'PAYMENT_FAILED');
      // The card charged for "slow" but answered after the 300 ms timeout: the spend fails, the 50 stay reserved.
      const impatient = { ...ctx, payments: processor.gateway(300) };
      expect((await expectError(spend(impatient, chat('slow')), 'PAYMENT_FAILED')).details).toMatchObject({ reason: 'timeout' });
      expect(processor.chargesFor(accountId)).toBe(1);
      // Another spend would pass the limit: 50 reserved + 50 > 50.
      await expectError(spend(other, chat('another')), 'INSUFFICIENT_CREDITS');
      expect(processor.chargesFor(accountId)).toBe(1);
      // The retry asks again under the same key, gets the charge made, and lands it.
      const retried = await spend(ctx, chat('slow'));
      expect(retried.balance).toBe(10n);
    } finally {
      processor.answer = () => 'charge';
    }
    expect(processor.chargesFor(accountId)).toBe(1);
    const topUps = await ctx.db.prisma.entry.findMany({ where: { accountId, type: 'AUTO_RELOAD' } });
    expect(topUps.map((e) => [e.amount, e.sourceId])).toEqual([[50n, processor.charges.get(`auto-reload#${accountId}:slow`)]]);
  });

  it('a top-up that would pass the maximum balance of 10^15 is never charged; one already charged lands even when a purchase filled the account meanwhile', async () => {
    const max = 1_000_000_000_000_000n;
    const nearlyFull = await newUserAccount(ctx);
    await purchase(ctx, { accountId: nearlyFull, idempotencyKey: `${nearlyFull}:fill`, actor: service, amount: max - 10n });
    await setAutoReload(ctx, { accountId: nearlyFull, enabled: true, amount: 50n, monthlyLimit: 500n });
    // Needs 10 more than the balance: a +50 top-up would cover it but take the balance to 10^15 + 40.
    const huge = { accountId: nearlyFull, idempotencyKey: `${nearlyFull}:huge`, actor: service, charge: { amount: max, category: 'Chat', description: 'A very long chat' } };
    await expectError(spend(ctx, huge), 'INSUFFICIENT_CREDITS');
    expect(processor.chargesFor(nearlyFull)).toBe(0);

    // Reserved with room (balance 0), then, while the card is being charged, a purchase fills the account.
    const filledMeanwhile = await newUserAccount(ctx);
    await setAutoReload(ctx, { accountId: filledMeanwhile, enabled: true, amount: 50n, monthlyLimit: 500n });
    processor.onCharged = () => purchase(other, { accountId: filledMeanwhile, idempotencyKey: `${filledMeanwhile}:fill`, actor: service, amount: max });
    try {
      const chat = { accountId: filledMeanwhile, idempotencyKey: `${filledMeanwhile}:chat`, actor: service, charge: { amount: 40n, category: 'Chat', description: 'A long chat' } };
      expect((await spend(ctx, chat)).balance).toBe(max + 10n); // 10^15 + 50 - 40: the charged 50 landed
    } finally {
      processor.onCharged = () => {};
    }
    expect(processor.chargesFor(filledMeanwhile)).toBe(1);
    expect(await chargesOn(ctx, filledMeanwhile)).toBe(1);
    await expectError(purchase(ctx, { accountId: filledMeanwhile, idempotencyKey: `${filledMeanwhile}:more`, actor: service, amount: 1n }), 'BALANCE_LIMIT_EXCEEDED');
  });
});
