import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CoreContext } from '../../core/context.js';
import { adjust } from '../../core/ledger/adjust.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { refund } from '../../core/ledger/refund.js';
import { reversePurchase } from '../../core/ledger/reversePurchase.js';
import { spend } from '../../core/ledger/spend.js';
import { getBalanceAt } from '../../core/reports/balanceAt.js';
import { engines } from '../support/databases.js';
import { expectError, inDays, key, newUserAccount, service, staff, useFreshLedger } from '../support/scenario.js';

const ms = (date: Date, delta: number) => new Date(date.getTime() + delta);

describe.each(engines)('the balance at a time on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  it('grant 100, spend 30, expiry, refund: the balance and buckets at every instant between them', async () => {
    // The same writes on another account first, so the plan's short life is not spent preparing statements.
    const warmUp = await newUserAccount(ctx);
    await grant(ctx, { accountId: warmUp, idempotencyKey: key(), actor: service, type: 'PLAN_GRANT', bucket: 'PLAN', amount: 100n, expiresAt: inDays(1) });
    await spend(ctx, { accountId: warmUp, idempotencyKey: key(), actor: service, charge: { amount: 30n, category: 'Chat', description: 'Chat turns' } });
    const accountId = await newUserAccount(ctx);
    const opened = (await ctx.db.prisma.account.findUniqueOrThrow({ where: { id: accountId } })).createdAt;
    const expiresAt = new Date(Date.now() + 2000);
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'PLAN_GRANT', bucket: 'PLAN', amount: 100n, expiresAt });
    const spent = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 30n, category: 'Chat', description: 'Chat turns' } });
    await sleep(expiresAt.getTime() - Date.now() + 50);
    // The refund is the first write after the expiry: it posts the EXPIRY entry first.
    await refund(ctx, { accountId, idempotencyKey: key(), actor: service, entryId: spent.entries[0]!.id });
    const log = await ctx.db.prisma.entry.findMany({ where: { accountId }, orderBy: { seq: 'asc' } });
    expect(log.map((e) => [e.type, e.amount, e.balanceAfter])).toEqual([
      ['PLAN_GRANT', 100n, 100n],
      ['USAGE', -30n, 70n],
      ['EXPIRY', -70n, 0n],
      ['REFUND', 30n, 30n],
    ]);
    const [plan, usage, expiry, refundEntry] = log;
    const at = (when: Date) => getBalanceAt(ctx, { accountId, at: when });
    const planBucket = { kind: 'PLAN', expiresAt };

    expect(await at(ms(opened, -1))).toMatchObject({ opened: false, entry: null, balance: 0n, available: 0n, buckets: [] });
    expect(await at(ms(plan!.createdAt, -1))).toMatchObject({ opened: true, entry: null, balance: 0n, buckets: [] });
    expect(await at(plan!.createdAt)).toMatchObject({ entry: { seq: 1n }, balance: 100n, available: 100n, buckets: [{ ...planBucket, remaining: 100n, expired: false }] });
    expect(await at(ms(usage!.createdAt, -1))).toMatchObject({ balance: 100n, buckets: [{ remaining: 100n }] });
    expect(await at(usage!.createdAt)).toMatchObject({ entry: { seq: 2n }, balance: 70n, available: 70n, buckets: [{ ...planBucket, remaining: 70n }] });
    // Expired but not yet swept: still in the balance (the log says 70), no longer spendable.
    expect(await at(ms(expiresAt, 1))).toMatchObject({ entry: { seq: 2n }, balance: 70n, available: 0n, buckets: [{ ...planBucket, remaining: 70n, expired: true }] });
    expect(await at(ms(expiry!.createdAt, -1))).toMatchObject({ balance: 70n, available: 0n });
    // The expiry and the refund land in one write, at one instant; the refund goes to a bonus
    // bucket, since the plan credits it came from have expired.
    const after = await at(refundEntry!.createdAt);
    expect(after).toMatchObject({ entry: { seq: 4n }, balance: 30n, available: 30n, outstanding: 0n });
    expect(after.buckets.map((b) => [b.kind, b.remaining, b.expired])).toEqual([['BONUS', 30n, false]]);
    expect(await at(new Date())).toEqual({ ...after, at: expect.any(Date) });
  });

  it('refuses an instant in the future and answers an unknown account with ACCOUNT_NOT_FOUND', async () => {
    const accountId = await newUserAccount(ctx);
    const refused = await expectError(getBalanceAt(ctx, { accountId, at: new Date(Date.now() + 60_000) }), 'VALIDATION_FAILED');
    expect(refused.details).toEqual({ issues: [{ path: 'at', message: 'is in the future' }] });
    await expectError(getBalanceAt(ctx, { accountId: '00000000-0000-4000-8000-000000000000', at: new Date() }), 'ACCOUNT_NOT_FOUND');
    await expectError(getBalanceAt(ctx, { accountId, at: 'yesterday' as never }), 'VALIDATION_FAILED');
    await expectError(getBalanceAt(ctx, { accountId, at: new Date('1969-12-31T23:59:59Z') }), 'VALIDATION_FAILED');
  });
});

/** The oracle: the log replayed from its first entry up to the last one at or before `at`. */
async function balanceAtByReplayingTheLog(ctx: CoreContext, accountId: string, at: Date) {
  const entries = await ctx.db.prisma.entry.findMany({ where: { accountId }, orderBy: { seq: 'asc' }, include: { movements: { include: { bucket: true } } } });
  const upTo = entries.filter((e) => e.createdAt <= at);
  const buckets = new Map<string, { id: string; kind: string; remaining: bigint; expiresAt: Date | null; priority: number; createdAt: Date }>();
  for (const entry of upTo) {
    for (const m of entry.movements) {
      const bucket = buckets.get(m.bucketId) ?? { ...m.bucket, remaining: 0n };
      bucket.remaining += m.amount;
      buckets.set(m.bucketId, bucket);
    }
  }
  const live = [...buckets.values()]
    .filter((b) => b.remaining !== 0n)
    .sort((a, b) => (a.expiresAt?.getTime() ?? Infinity) - (b.expiresAt?.getTime() ?? Infinity) || a.priority - b.priority || a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1))
    .map((b) => ({ id: b.id, kind: b.kind, remaining: b.remaining, expiresAt: b.expiresAt, expired: b.expiresAt !== null && b.expiresAt <= at }));
  const last = upTo.at(-1);
  return {
    entry: last ? { seq: last.seq, createdAt: last.createdAt } : null,
    balance: last?.balanceAfter ?? 0n,
    outstanding: last?.outstandingAfter ?? 0n,
    available: live.filter((b) => !b.expired).reduce((sum, b) => sum + b.remaining, 0n),
    buckets: live,
  };
}

const step = fc.oneof(
  fc.record({ op: fc.constant('grant' as const), amount: fc.integer({ min: 1, max: 300 }), expiresSoon: fc.boolean() }),
  fc.record({ op: fc.constant('purchase' as const), amount: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ op: fc.constant('spend' as const), amount: fc.integer({ min: 1, max: 120 }) }),
  fc.record({ op: fc.constant('burst' as const), spends: fc.integer({ min: 2, max: 64 }) }),
  fc.constant({ op: 'refund' as const }),
  fc.constant({ op: 'reverse' as const }),
  fc.record({ op: fc.constant('adjust' as const), amount: fc.integer({ min: -50, max: 50 }).filter((n) => n !== 0) }),
  fc.constant({ op: 'wait' as const }),
);
type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

async function play(ctx: CoreContext, steps: Step[]): Promise<string> {
  const accountId = await newUserAccount(ctx);
  const base = () => ({ accountId, idempotencyKey: key(), actor: service });
  const usage: string[] = [];
  const purchases: string[] = [];
  const chat = (amount: number) => ({ amount: BigInt(amount), category: 'Chat', description: 'Chat turns' });
  const refused = () => null; // refusals (INSUFFICIENT_CREDITS, NOT_REFUNDABLE…) are part of a random history
  for (const s of steps) {
    if (s.op === 'grant') {
      const expiresAt = new Date(Date.now() + (s.expiresSoon ? 30 : 30 * 86_400_000));
      await grant(ctx, { ...base(), type: 'PLAN_GRANT', bucket: 'PLAN', amount: s.amount, expiresAt }).catch(refused);
    } else if (s.op === 'purchase') {
      const bought = await purchase(ctx, { ...base(), amount: s.amount }).catch(refused);
      if (bought) purchases.push(bought.entries[0]!.id);
    } else if (s.op === 'spend') {
      const spent = await spend(ctx, { ...base(), charge: chat(s.amount) }).catch(refused);
      if (spent) usage.push(spent.entries.at(-1)!.id);
    } else if (s.op === 'burst') {
      // Concurrent spends go in group commits: many entries at one instant.
      await Promise.all(Array.from({ length: s.spends }, () => spend(ctx, { ...base(), charge: chat(1) }).catch(refused)));
    } else if (s.op === 'refund' && usage.length > 0) {
      await refund(ctx, { ...base(), entryId: usage.pop()! }).catch(refused);
    } else if (s.op === 'reverse' && purchases.length > 0) {
      await reversePurchase(ctx, { ...base(), entryId: purchases.pop()! }).catch(refused);
    } else if (s.op === 'adjust') {
      await adjust(ctx, { ...base(), actor: staff, amount: BigInt(s.amount), reason: 'random correction' }).catch(refused);
    } else if (s.op === 'wait') {
      await sleep(35); // past the expiry of credits granted to expire soon
    }
  }
  return accountId;
}

describe.each(engines)('the balance at a time against a replay of the log on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  it('agrees exactly at every entry, a millisecond either side of it, and before the account opened', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
        const accountId = await play(ctx, steps);
        const opened = (await ctx.db.prisma.account.findUniqueOrThrow({ where: { id: accountId } })).createdAt;
        const times = (await ctx.db.prisma.entry.findMany({ where: { accountId }, select: { createdAt: true }, distinct: ['createdAt'] })).map((e) => e.createdAt);
        const instants = [ms(opened, -1), opened, ...times.flatMap((t) => [ms(t, -1), t, ms(t, 1)])].filter((t) => t.getTime() <= Date.now());
        for (const at of instants) {
          const { accountId: _, at: __, opened: ___, ...fast } = await getBalanceAt(ctx, { accountId, at });
          expect(fast, at.toISOString()).toEqual(await balanceAtByReplayingTheLog(ctx, accountId, at));
        }
      }),
      { numRuns: Number(process.env.BALANCE_AT_ORACLE_RUNS ?? 8) },
    );
  });
});
