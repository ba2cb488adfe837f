import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CoreContext } from '../../core/context.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { cancelSubscription } from '../../core/plans/cancelSubscription.js';
import { changePlan } from '../../core/plans/changePlan.js';
import { renewDueSubscriptions } from '../../core/plans/renewDueSubscriptions.js';
import { subscribe } from '../../core/plans/subscribe.js';
import { lastAnniversary, periodAt } from '../../core/plans/billingPeriod.js';
import { findSubscription } from '../../core/plans/subscriptionRecord.js';
import { getBalanceBreakdown } from '../../core/reports/balanceBreakdown.js';
import { balanceOf, entryCount, expectError, key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';

const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
const day = 86_400_000;

/**
 * Time passes for one account: its whole history (entries, credits and their expiries, the
 * subscription) moves `ms` into the past, consistently, so every invariant still holds.
 */
async function travel(ctx: CoreContext, accountId: string, ms: number): Promise<void> {
  const by = `${Math.round(ms)} milliseconds`;
  await ctx.db.sql.transaction(async (tx) => {
    await tx.query(
      `UPDATE subscriptions SET anchor_at = anchor_at - $2::interval, period_start = period_start - $2::interval,
         period_end = period_end - $2::interval WHERE account_id = $1::uuid`,
      [accountId, by],
    );
    await tx.query(
      'UPDATE buckets SET expires_at = expires_at - $2::interval, created_at = created_at - $2::interval WHERE account_id = $1::uuid',
      [accountId, by],
    );
    // History is append-only; only a test may rewrite when it happened.
    await tx.query('ALTER TABLE entries DISABLE TRIGGER entries_append_only');
    await tx.query('UPDATE entries SET created_at = created_at - $2::interval WHERE account_id = $1::uuid', [accountId, by]);
    await tx.query('ALTER TABLE entries ENABLE TRIGGER entries_append_only');
  });
  // A process that wrote the account holds it as its last write left it (core/ledger/knownAccounts.ts),
  // as it would hold any account changed behind the ledger's back: the test goes on as a process
  // started after the rewrite would, on a new handle to the same database.
  ctx.db = { ...ctx.db };
}

async function newestEntries(ctx: CoreContext, accountId: string, count: number) {
  const rows = await ctx.db.prisma.entry.findMany({ where: { accountId }, orderBy: { seq: 'desc' }, take: count });
  return rows.reverse().map((e) => ({ type: e.type, description: e.description, amount: e.amount, balanceAfter: e.balanceAfter }));
}

describe('plans and renewals (PostgreSQL)', () => {
  const ctx = useFreshLedger('postgres');
  const renew = () => renewDueSubscriptions(ctx, { logger });

  it('a Free user gets 12 credits a week; at the reset what is left expires and 12 fresh ones land; purchased credits are untouched', async () => {
    const accountId = await newUserAccount(ctx);
    const { subscription } = await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'free' });
    expect(subscription).toMatchObject({ plan: 'free', status: 'ACTIVE', periodIndex: 0 });
    expect(subscription.periodEnd.getTime() - subscription.periodStart.getTime()).toBe(7 * day);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 20n });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 1 } }); // 3 credits
    expect(await balanceOf(ctx, accountId)).toBe(29n);

    expect((await renew()).granted).toBe(0); // not due yet
    await travel(ctx, accountId, 7 * day);
    const run = await renew();
    expect(run).toMatchObject({ ran: true, granted: 1, failed: 0 });
    expect(await newestEntries(ctx, accountId, 2)).toEqual([
      { type: 'EXPIRY', description: '9 unused weekly credits expired', amount: -9n, balanceAfter: 20n },
      { type: 'WEEKLY_GRANT', description: 'Weekly grant: Free plan', amount: 12n, balanceAfter: 32n },
    ]);
    expect((await findSubscription(ctx.db.sql, accountId))!.periodIndex).toBe(1);
  });

  it('Growth renews on the anniversary: 325 land, unused plan credits reset, the 50 purchased roll over', async () => {
    const accountId = await newUserAccount(ctx);
    await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'growth', timeZone: 'Europe/Berlin' });
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 50n });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 200n, category: 'Submission', description: 'Submissions' } });
    const { periodEnd, periodStart } = (await findSubscription(ctx.db.sql, accountId))!;
    await travel(ctx, accountId, periodEnd.getTime() - periodStart.getTime());
    await renew();
    expect(await newestEntries(ctx, accountId, 2)).toEqual([
      { type: 'EXPIRY', description: '125 unused plan credits expired', amount: -125n, balanceAfter: 50n },
      { type: 'PLAN_GRANT', description: 'Monthly grant: Growth plan', amount: 325n, balanceAfter: 375n },
    ]);
  });

  it('periods missed while the process was down are each granted; the ones already over expire at once', async () => {
    const accountId = await newUserAccount(ctx);
    await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'free' });
    await travel(ctx, accountId, 21 * day + 60_000); // three weeks and a minute
    const before = await entryCount(ctx, accountId);
    await renew();
    expect((await findSubscription(ctx.db.sql, accountId))!.periodIndex).toBe(3);
    const written = await newestEntries(ctx, accountId, (await entryCount(ctx, accountId)) - before);
    expect(written.filter((e) => e.type === 'WEEKLY_GRANT')).toHaveLength(3);
    expect(written.filter((e) => e.type === 'EXPIRY').map((e) => e.amount)).toEqual([-12n, -12n, -12n]);
    expect(await balanceOf(ctx, accountId)).toBe(12n);
  });

  it('two renewal runs at once (two processes) grant each period once', async () => {
    const accountId = await newUserAccount(ctx);
    await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'starter' });
    await travel(ctx, accountId, 31 * day);
    const runs = await Promise.all([renew(), renew(), renew()]);
    expect(runs.reduce((sum, r) => sum + r.granted, 0)).toBe(1);
    expect(await balanceOf(ctx, accountId)).toBe(150n);
  });

  it('a renewal retried after it granted but before it moved the subscription on grants nothing more', async () => {
    const accountId = await newUserAccount(ctx);
    await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'starter' });
    await travel(ctx, accountId, 31 * day);
    const due = (await findSubscription(ctx.db.sql, accountId))!;
    await renew();
    // The process died after the grant: the subscription is back where it was.
    await ctx.db.sql.query('UPDATE subscriptions SET period_index = $2, period_start = $3, period_end = $4 WHERE account_id = $1::uuid', [
      accountId,
      due.periodIndex,
      due.periodStart,
      due.periodEnd,
    ]);
    const run = await renew();
    expect(run).toMatchObject({ granted: 0, alreadyGranted: 1 });
    expect(await balanceOf(ctx, accountId)).toBe(150n);
  });

  it('cancelling stops future grants; credits already granted stay until the period ends', async () => {
    const accountId = await newUserAccount(ctx);
    await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'starter' });
    expect((await cancelSubscription(ctx, { accountId })).status).toBe('CANCELLED');
    expect((await cancelSubscription(ctx, { accountId })).status).toBe('CANCELLED'); // again: no change
    expect(await balanceOf(ctx, accountId)).toBe(150n);
    await travel(ctx, accountId, 31 * day);
    await renew();
    expect(await balanceOf(ctx, accountId)).toBe(150n); // not renewed; the expiry posts with the next write
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 1n });
    expect(await balanceOf(ctx, accountId)).toBe(1n);
    await expectError(cancelSubscription(ctx, { accountId: await newUserAccount(ctx) }), 'SUBSCRIPTION_NOT_FOUND');
  });

  it('upgrading Starter → Growth halfway through the month prorates (325 − 150) × ½ = 87 plan credits', async () => {
    const accountId = await newUserAccount(ctx);
    await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'starter' });
    await halfway(ctx, accountId);
    const { subscription, write } = await changePlan(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'growth' });
    expect(subscription.plan).toBe('growth');
    expect(write!.entries[0]).toMatchObject({ type: 'PRORATION', description: 'Mid cycle proration: Starter → Growth', amount: 87n, balanceAfter: 237n });
  });

  it('downgrading Growth → Starter halfway removes 87 plan credits, but never more than the plan credits left, never purchased ones', async () => {
    const accountId = await newUserAccount(ctx);
    await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'growth' });
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 40n });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 300n, category: 'Submission', description: 'Submissions' } });
    await halfway(ctx, accountId);
    const { write } = await changePlan(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'starter' });
    expect(write!.entries[0]).toMatchObject({ type: 'PRORATION', amount: -25n, balanceAfter: 40n }); // only 25 plan credits were left
  });

  it('Free (weekly) → Starter (monthly) starts a new monthly cycle now: the weekly credits stop, 150 land', async () => {
    const accountId = await newUserAccount(ctx);
    await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'free' });
    const { subscription, write } = await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'starter' });
    expect(subscription).toMatchObject({ plan: 'starter', periodIndex: 0 });
    expect(write!.entries.map((e) => [e.type, e.amount])).toEqual([
      ['EXPIRY', -12n],
      ['PLAN_GRANT', 150n],
    ]);
  });

  it('a retried subscribe or plan change replays and writes nothing more; the same plan again is no change', async () => {
    const accountId = await newUserAccount(ctx);
    const first = key();
    await subscribe(ctx, { accountId, idempotencyKey: first, actor: service, plan: 'starter' });
    const again = await subscribe(ctx, { accountId, idempotencyKey: first, actor: service, plan: 'starter' });
    expect(again.write!.replayed).toBe(true);
    expect((await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'starter' })).write).toBeNull();
    const change = key();
    await changePlan(ctx, { accountId, idempotencyKey: change, actor: service, plan: 'scale' });
    expect((await changePlan(ctx, { accountId, idempotencyKey: change, actor: service, plan: 'scale' })).write!.replayed).toBe(true);
    expect(await entryCount(ctx, accountId)).toBe(2);
    await expectError(changePlan(ctx, { accountId, idempotencyKey: change, actor: service, plan: 'growth' }), 'IDEMPOTENCY_CONFLICT');
  });

  it('refuses an unknown plan, an unknown zone, an anniversary in the future, and a change with no subscription, writing nothing', async () => {
    const accountId = await newUserAccount(ctx);
    await expectError(subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'platinum' }), 'PLAN_NOT_FOUND');
    await expectError(subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'free', timeZone: 'Mars/Olympus' }), 'VALIDATION_FAILED');
    await expectError(subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'free', anchorAt: new Date(Date.now() + day) }), 'VALIDATION_FAILED');
    await expectError(changePlan(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'growth' }), 'SUBSCRIPTION_NOT_FOUND');
    expect(await entryCount(ctx, accountId)).toBe(0);
    expect(await findSubscription(ctx.db.sql, accountId)).toBeNull();
  });

  it('a subscriber moved from another system keeps their anniversary: the period containing now is granted, not the ones before', async () => {
    const accountId = await newUserAccount(ctx);
    const anchorAt = new Date(Date.now() - 100 * day);
    const { subscription } = await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'scale', anchorAt });
    expect(subscription.periodIndex).toBeGreaterThanOrEqual(3);
    expect(subscription.periodStart.getTime()).toBeLessThanOrEqual(Date.now());
    expect(subscription.periodEnd.getTime()).toBeGreaterThan(Date.now());
    expect(await balanceOf(ctx, accountId)).toBe(575n);
  });
});

describe('a rollover plan', () => {
  const ctx = useFreshLedger('pglite');
  it('carries unused plan credits up to its cap into the next period, and no further', async () => {
    ctx.plans = { ...ctx.plans, keeper: { name: 'Keeper', allocation: 100, period: 'month', unused: 'rollover', rolloverCap: 50 } };
    const accountId = await newUserAccount(ctx);
    await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'keeper' });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 30n, category: 'Chat', description: 'Chat' } });
    await travel(ctx, accountId, 32 * day);
    await renewDueSubscriptions(ctx, { logger });
    expect(await newestEntries(ctx, accountId, 2)).toMatchObject([
      { type: 'EXPIRY', description: '20 unused plan credits expired', amount: -20n },
      { type: 'PLAN_GRANT', amount: 100n, balanceAfter: 150n },
    ]);
    const { periodStart, periodEnd } = (await findSubscription(ctx.db.sql, accountId))!;
    await travel(ctx, accountId, periodEnd.getTime() - periodStart.getTime());
    await renewDueSubscriptions(ctx, { logger });
    // The 50 carried once expire with their second period; 50 of the 100 carry on.
    expect(await newestEntries(ctx, accountId, 3)).toMatchObject([
      { type: 'EXPIRY', amount: -50n },
      { type: 'EXPIRY', amount: -50n },
      { type: 'PLAN_GRANT', amount: 100n, balanceAfter: 150n },
    ]);
  });
});

/** Moves the subscription so that exactly half of its current period is left. */
async function halfway(ctx: CoreContext, accountId: string): Promise<void> {
  const { periodStart, periodEnd } = (await findSubscription(ctx.db.sql, accountId))!;
  const now = Date.now();
  await travel(ctx, accountId, periodEnd.getTime() - now - (periodEnd.getTime() - periodStart.getTime()) / 2);
}

describe('the balance breakdown of a subscriber (Total Used and Usage Rate)', () => {
  const ctx = useFreshLedger('pglite');
  it('shows the plan, the next grant, and what was used of the allocation this period, counted from the period start', async () => {
    const accountId = await newUserAccount(ctx);
    const { subscription } = await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'starter' });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 9 } }); // 27
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 3 } }); // 3
    const breakdown = await getBalanceBreakdown(ctx, { accountId });
    expect(breakdown.plan).toEqual({
      id: 'starter',
      name: 'Starter',
      status: 'ACTIVE',
      allocation: 150,
      period: 'month',
      periodStart: subscription.periodStart,
      periodEnd: subscription.periodEnd,
      nextGrant: { at: subscription.periodEnd, credits: 150 },
      usedThisPeriod: 30n,
      usageRatePercent: 20,
    });
    await cancelSubscription(ctx, { accountId });
    expect((await getBalanceBreakdown(ctx, { accountId })).plan).toMatchObject({ status: 'CANCELLED', nextGrant: null });
  });
});

describe('a simulated year (PostgreSQL)', () => {
  const ctx = useFreshLedger('postgres');

  /** A subscription one period in, its first grant never made, as if the process had been down since `anchorAt`. */
  async function downSince(plan: string, anchorAt: Date, timeZone = 'UTC'): Promise<string> {
    const accountId = await newUserAccount(ctx);
    const unit = ctx.plans[plan]!.period;
    const first = periodAt(anchorAt, timeZone, unit, 0);
    await ctx.db.sql.query(
      `INSERT INTO subscriptions (account_id, plan, time_zone, anchor_at, period_index, period_start, period_end) VALUES ($1::uuid, $2, $3, $4, 0, $5, $6)`,
      [accountId, plan, timeZone, anchorAt, first.start, first.end],
    );
    return accountId;
  }

  async function grantsOf(accountId: string) {
    return ctx.db.sql.query<{ key: string; amount: string }>(
      "SELECT idempotency_key AS key, amount::text FROM entries WHERE account_id = $1::uuid AND type IN ('PLAN_GRANT', 'WEEKLY_GRANT') ORDER BY seq",
      [accountId],
    );
  }

  it('monthly renewals on the 31st land on the last day of shorter months, once per missed month, and a year of weekly resets once per week', async () => {
    const now = Date.now();
    const anchorAt = lastAnniversary(31, 'Europe/Berlin', new Date(now - 366 * day));
    const growth = await downSince('growth', anchorAt, 'Europe/Berlin');
    const free = await downSince('free', new Date(now - 52 * 7 * day - 60_000));
    const run = await renewDueSubscriptions(ctx, { logger });
    expect(run.failed).toBe(0);

    const monthly = await grantsOf(growth);
    const months = monthly.length;
    expect(months).toBeGreaterThanOrEqual(12);
    // Each key names its period's start: midnight in Berlin on the 31st, or the month's last day.
    const days = monthly.map((g) => {
      const start = new Date(g.key.split(':').slice(3).join(':'));
      const local = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Berlin', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' }).formatToParts(start);
      const part = (type: string) => Number(local.find((p) => p.type === type)!.value);
      return { day: part('day'), last: new Date(Date.UTC(part('year'), part('month'), 0)).getUTCDate(), hour: part('hour') };
    });
    for (const d of days) expect(d).toEqual({ day: Math.min(31, d.last), last: d.last, hour: 0 });
    expect(days.some((d) => d.last < 31)).toBe(true);
    expect(await balanceOf(ctx, growth)).toBe(325n); // every month but the current one expired at once

    expect(await grantsOf(free)).toHaveLength(52);
    expect(await balanceOf(ctx, free)).toBe(12n);
    expect((await findSubscription(ctx.db.sql, free))!.periodIndex).toBe(52);

    // Running again (a second renewer, or the next cron tick) finds nothing due.
    expect(await renewDueSubscriptions(ctx, { logger })).toMatchObject({ granted: 0, alreadyGranted: 0 });
    expect(await grantsOf(growth)).toHaveLength(months);
  });

  it('refuses an anniversary outside 1–31, and takes the 31st as the day of the month a subscription renews on', async () => {
    const accountId = await newUserAccount(ctx);
    for (const anniversaryDay of [0, 32, 1.5]) {
      await expectError(subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'growth', anniversaryDay }), 'VALIDATION_FAILED');
    }
    const { subscription } = await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'growth', anniversaryDay: 31, timeZone: 'America/New_York' });
    const anchorDay = Number(new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', day: 'numeric' }).format(subscription.anchorAt));
    expect(anchorDay).toBe(31);
    expect(subscription.periodStart.getTime()).toBeLessThanOrEqual(Date.now());
    expect(subscription.periodEnd.getTime()).toBeGreaterThan(Date.now());
  });
});
