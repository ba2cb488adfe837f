import { describe, expect, it } from 'vitest';
import { purchase } from '../../core/ledger/purchase.js';
import { refund } from '../../core/ledger/refund.js';
import { spend } from '../../core/ledger/spend.js';
import { getDailyUsage } from '../../core/reports/dailyUsage.js';
import { getMonthlySummary } from '../../core/reports/monthlySummary.js';
import { engines } from '../support/databases.js';
import { expectError, key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';

/** The calendar date of `at` in `timeZone`, as YYYY-MM-DD. */
function localDate(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

describe.each(engines)('usage charts on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  it('the last 30 days, zero days included, with the total and average per day', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 500n });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 20n, category: 'AI Generation', description: 'Tool: keyframeGenerate' } });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 5n, category: 'Research', description: 'Tool: researcher' } });
    const chart = await getDailyUsage(ctx, { accountId });
    expect(chart.timeZone).toBe('UTC');
    expect(chart.days).toHaveLength(30);
    expect(chart.days.at(-1)).toEqual({ date: localDate(new Date(), 'UTC'), used: 25n, transactions: 2 });
    expect(chart.days.slice(0, 29).every((d) => d.used === 0n && d.transactions === 0)).toBe(true);
    expect(chart.total).toBe(25n);
    expect(chart.averagePerDay).toBe(0.83);
  });

  it('a refund of usage lowers that day’s usage', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 50n });
    const used = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 4 } });
    await refund(ctx, { accountId, idempotencyKey: key(), actor: service, entryId: used.entries[0]!.id, amount: 3n });
    expect((await getDailyUsage(ctx, { accountId })).total).toBe(9n);
  });

  it("days are the user's own: usage late in the UTC evening is the next day in Kolkata", async () => {
    const accountId = await newUserAccount(ctx, `user-kolkata-${key()}`);
    // Rollups are what the chart reads: place one quarter hour at 23:30 UTC yesterday.
    const yesterday = new Date(Date.now() - 86_400_000);
    const at = new Date(Date.UTC(yesterday.getUTCFullYear(), yesterday.getUTCMonth(), yesterday.getUTCDate(), 23, 30));
    await ctx.db.sql.query(
      'INSERT INTO usage_rollups (account_id, period_start, used, added, usage_count) VALUES ($1::uuid, $2::timestamptz, 7, 0, 1)',
      [accountId, at.toISOString()],
    );
    const utc = await getDailyUsage(ctx, { accountId, days: 7 });
    const kolkata = await getDailyUsage(ctx, { accountId, days: 7, timeZone: 'Asia/Kolkata' });
    expect(utc.days.find((d) => d.used === 7n)!.date).toBe(localDate(at, 'UTC'));
    expect(kolkata.days.find((d) => d.used === 7n)!.date).toBe(localDate(at, 'Asia/Kolkata'));
    expect(localDate(at, 'Asia/Kolkata')).not.toBe(localDate(at, 'UTC'));
    expect(kolkata.days.at(-1)!.date).toBe(localDate(new Date(), 'Asia/Kolkata'));
  });

  it('this month (marked current) and the three before, with usage and transactions', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 5000n });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'photo_processing', quantity: 1200 }, source: { kind: 'event', id: '8812', label: 'Spring Marathon' } });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'photo_processing', quantity: 300 }, source: { kind: 'event', id: '8813', label: 'City Run' } });
    const summary = await getMonthlySummary(ctx, { accountId });
    expect(summary.months).toHaveLength(4);
    expect(summary.months[0]).toEqual({ month: localDate(new Date(), 'UTC').slice(0, 7), current: true, used: 1500n, transactions: 2 });
    expect(summary.months.slice(1).map((m) => [m.current, m.used, m.transactions])).toEqual([
      [false, 0n, 0],
      [false, 0n, 0],
      [false, 0n, 0],
    ]);
  });

  it('bad input: an unknown time zone or window is a clear error', async () => {
    const accountId = await newUserAccount(ctx);
    await expectError(getDailyUsage(ctx, { accountId, timeZone: 'Mars/Olympus' }), 'VALIDATION_FAILED');
    await expectError(getMonthlySummary(ctx, { accountId, timeZone: 'Nowhere' }), 'VALIDATION_FAILED');
    await expectError(getDailyUsage(ctx, { accountId, days: 0 }), 'VALIDATION_FAILED');
    await expectError(getDailyUsage(ctx, { accountId: '00000000-0000-4000-8000-000000000000' }), 'ACCOUNT_NOT_FOUND');
  });
});
