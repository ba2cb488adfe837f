import { beforeAll, describe, expect, it } from 'vitest';
import { openAccount } from '../../core/accounts/openAccount.js';
import { purchase } from '../../core/ledger/purchase.js';
import { occurredAtOf, spend } from '../../core/ledger/spend.js';
import { getActivity } from '../../core/reports/activity.js';
import { getDailyUsage } from '../../core/reports/dailyUsage.js';
import { exportActivityCsv } from '../../core/reports/exportActivity.js';
import { getMonthlySummary } from '../../core/reports/monthlySummary.js';
import { usedSince } from '../../core/reports/usedSince.js';
import { moveHistoryBack } from '../../demo/timeMachine.js';
import { client, useApi } from '../support/api.js';
import { anotherProcess, engines } from '../support/databases.js';
import { balanceOf, entryCount, expectError, key, service, useFreshLedger } from '../support/scenario.js';

const day = 86_400_000;
const utcDate = (at: Date) => at.toISOString().slice(0, 10);
/** Noon and five past (UTC) on the last day of last month: 12 hours to 31½ days ago, so always inside the 35 days. */
const lastMonthEnd = (minutes = 5) => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 0, 12, minutes));
};
const chat = (amount: number) => ({ amount, category: 'Chat', description: 'Assistant turns' });

describe('how late usage may be reported (against the write time)', () => {
  const now = new Date('2026-12-02T10:00:00.000Z');
  const openedAt = new Date('2026-09-01T00:00:00.000Z');
  const refusedWhy = (occurredAt: Date, opened: Date | null = openedAt) => {
    try {
      occurredAtOf(now, occurredAt, opened);
    } catch (error) {
      return (error as { code: string; details: { issues: { message: string }[] } }).code + ': ' + (error as { details: { issues: { message: string }[] } }).details.issues[0]!.message;
    }
    return 'accepted';
  };

  it('35 days back exactly is accepted, a millisecond more is not; 5 minutes ahead is now, a millisecond more is refused', () => {
    const limit = new Date(now.getTime() - 35 * day);
    expect(occurredAtOf(now, limit, openedAt)).toEqual(limit);
    expect(refusedWhy(new Date(limit.getTime() - 1))).toBe('VALIDATION_FAILED: is more than 35 days ago');
    expect(occurredAtOf(now, new Date(now.getTime() + 5 * 60_000), openedAt)).toBeUndefined();
    expect(occurredAtOf(now, now, openedAt)).toBeUndefined();
    expect(refusedWhy(new Date(now.getTime() + 5 * 60_000 + 1))).toBe('VALIDATION_FAILED: is in the future');
    expect(occurredAtOf(now, new Date(now.getTime() - 1), openedAt)).toEqual(new Date(now.getTime() - 1));
  });

  it('an account opened 10 days ago takes usage from its opening, not a millisecond before', () => {
    const opened = new Date(now.getTime() - 10 * day);
    expect(occurredAtOf(now, opened, opened)).toEqual(opened);
    expect(refusedWhy(new Date(opened.getTime() - 1), opened)).toBe('VALIDATION_FAILED: is before the account was opened');
  });
});

describe.each(engines)('late usage on %s', (engine) => {
  const ctx = useFreshLedger(engine);
  const api = useApi(ctx);
  let maria = '';
  let late = '';
  let rows = '';
  let batch: (events: unknown[]) => ReturnType<ReturnType<typeof client>>;

  beforeAll(async () => {
    maria = (await openAccount(ctx, { owner: { kind: 'USER', externalId: `maria-${key()}` } })).accountId;
    late = (await openAccount(ctx, { owner: { kind: 'USER', externalId: `late-${key()}` } })).accountId;
    rows = (await openAccount(ctx, { owner: { kind: 'USER', externalId: `rows-${key()}` } })).accountId;
    for (const accountId of [maria, late, rows]) await purchase(ctx, { accountId, idempotencyKey: 'opening', actor: service, amount: 100n });
    // The accounts were opened, and bought their 100, 40 days ago.
    await moveHistoryBack(ctx.db, 40 * 24 * 60);
    batch = (events) => client(api.baseUrl, api.service)('POST', '/v1/usage/batch', { body: { events } });
  });

  it('40 credits that happened on the last day of last month, reported today with 6 of today: the balance drops 46 at once; that day and month count the 40, today the 6', async () => {
    const occurredAt = lastMonthEnd();
    const keys = [key('late'), key('now')];
    const events = [
      { accountId: maria, idempotencyKey: keys[0], charge: chat(40), occurredAt: occurredAt.toISOString() },
      { accountId: maria, idempotencyKey: keys[1], charge: chat(6) },
    ];
    const first = await batch(events);
    expect(first.status, first.text).toBe(200);
    expect(first.body.outcomes.map((o: { status: string }) => o.status)).toEqual(['written', 'written']);
    const [lateEntry] = first.body.outcomes[0].result.entries;
    expect(lateEntry).toMatchObject({ amount: '-40', balanceAfter: '60', occurredAt: occurredAt.toISOString() });
    expect(new Date(lateEntry.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(first.body.outcomes[1].result.entries[0]).toMatchObject({ amount: '-6', balanceAfter: '54', occurredAt: null });
    expect(await balanceOf(ctx, maria)).toBe(54n);

    const chart = await getDailyUsage(ctx, { accountId: maria, days: 40, timeZone: 'UTC' });
    expect(chart.days.find((d) => d.date === utcDate(occurredAt))).toEqual({ date: utcDate(occurredAt), used: 40n, transactions: 1 });
    expect(chart.days.at(-1)).toEqual({ date: utcDate(new Date()), used: 6n, transactions: 1 });
    expect(chart.total).toBe(46n);
    const summary = await getMonthlySummary(ctx, { accountId: maria, timeZone: 'UTC' });
    expect(summary.months.slice(0, 2).map((m) => [m.month, m.used, m.transactions])).toEqual([
      [utcDate(new Date()).slice(0, 7), 6n, 1],
      [utcDate(occurredAt).slice(0, 7), 40n, 1],
    ]);

    // A period starting inside the late event's quarter hour: counted from 12:02, not from 12:06.
    const at = (minute: number) => new Date(occurredAt.getTime() + (minute - 5) * 60_000);
    expect(await usedSince(ctx, maria, at(2))).toEqual({ used: 46n, transactions: 2 });
    expect(await usedSince(ctx, maria, at(6))).toEqual({ used: 6n, transactions: 1 });
    expect(await usedSince(ctx, maria, new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1)))).toEqual({ used: 6n, transactions: 1 });

    // Shown: the log (in write order, the late event a row of its own) and the CSV.
    const page = await getActivity(ctx, { accountId: maria, filter: 'USED' });
    expect(page.rows.map((r) => [r.amount, r.balanceAfter, r.count, r.occurredAt?.toISOString() ?? null])).toEqual([
      [-6n, 54n, 1, null],
      [-40n, 60n, 1, occurredAt.toISOString()],
    ]);
    let csv = '';
    for await (const chunk of exportActivityCsv(ctx, { accountId: maria })) csv += chunk;
    const [header, ...lines] = csv.trim().split('\r\n');
    expect(header!.split(',').at(-1)).toBe('occurred_at');
    expect(lines.map((l) => l.split(',').at(-1))).toEqual(['', occurredAt.toISOString(), '']);

    // The same batch again: the same outcomes, nothing moves twice.
    const again = await batch(events);
    expect(again.body.outcomes.map((o: { status: string }) => o.status)).toEqual(['replayed', 'replayed']);
    expect(again.body.outcomes[0].result.entries[0]).toEqual(lateEntry);
    expect(await balanceOf(ctx, maria)).toBe(54n);
    expect((await getDailyUsage(ctx, { accountId: maria, days: 40, timeZone: 'UTC' })).total).toBe(46n);
  });

  it('each event is bounded on its own: 36 days ago, 10 minutes ahead and before the opening are refused with VALIDATION_FAILED; the rest land', async () => {
    const opened = await ctx.db.prisma.account.findUniqueOrThrow({ where: { id: late } });
    const before = await entryCount(ctx, late);
    const events = [
      { accountId: late, idempotencyKey: key(), charge: chat(1), occurredAt: new Date(Date.now() - 36 * day).toISOString() },
      { accountId: late, idempotencyKey: key(), charge: chat(2), occurredAt: new Date(Date.now() + 10 * 60_000).toISOString() },
      { accountId: late, idempotencyKey: key(), charge: chat(3), occurredAt: new Date(Date.now() - 34 * day).toISOString() },
      { accountId: late, idempotencyKey: key(), charge: chat(4), occurredAt: 'yesterday-ish' },
    ];
    const reply = await batch(events);
    expect(reply.body.outcomes.map((o: { status: string; error?: { code: string; details: { issues: { message: string }[] } } }) => o.error ? `${o.error.code}: ${o.error.details.issues[0]!.message}` : o.status)).toEqual([
      'VALIDATION_FAILED: is more than 35 days ago',
      'VALIDATION_FAILED: is in the future',
      'written',
      'VALIDATION_FAILED: must be a date',
    ]);
    expect(await entryCount(ctx, late)).toBe(before + 1);
    expect(await balanceOf(ctx, late)).toBe(97n);

    // One account opened yesterday: the day before yesterday is before it existed.
    const fresh = (await openAccount(ctx, { owner: { kind: 'USER', externalId: `fresh-${key()}` } })).accountId;
    await purchase(ctx, { accountId: fresh, idempotencyKey: 'opening', actor: service, amount: 10n });
    const refused = await expectError(
      spend(ctx, { accountId: fresh, idempotencyKey: key(), actor: service, charge: chat(1), occurredAt: new Date(Date.now() - 2 * day) }),
      'VALIDATION_FAILED',
    );
    expect(refused.message).toMatch(/^occurredAt: is before the account was opened/);
    expect(opened.createdAt.getTime()).toBeLessThan(Date.now() - 39 * day);
  });

  it('20 spends at once on one account, 10 of them late at two moments of one quarter hour: one flush adds each to its quarter hour', async () => {
    const accountId = late;
    const occurredAt = lastMonthEnd(1);
    const before = (await getDailyUsage(ctx, { accountId, days: 40, timeZone: 'UTC' })).days;
    const spends = Array.from({ length: 20 }, (_, i) =>
      spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: chat(1), ...(i % 2 === 0 && { occurredAt: new Date(occurredAt.getTime() + (i % 4) * 60_000) }) }),
    );
    await Promise.all(spends);
    const after = (await getDailyUsage(ctx, { accountId, days: 40, timeZone: 'UTC' })).days;
    const added = (date: string) => after.find((d) => d.date === date)!.used - before.find((d) => d.date === date)!.used;
    expect([added(utcDate(occurredAt)), added(utcDate(new Date()))]).toEqual([10n, 10n]);
    const [rollup] = await ctx.db.sql.query<{ used: string; usage_count: number }>(
      `SELECT used::text, usage_count FROM usage_rollups WHERE account_id = $1::uuid AND period_start = $2::timestamptz`,
      [accountId, new Date(occurredAt.getTime() - 60_000).toISOString()],
    );
    expect(rollup).toEqual({ used: '10', usage_count: 10 });
  });

  it('a period from the account opening, mid quarter hour: 3 late and 2 on time, both written in that first partial quarter hour, are used 5 in 2 transactions, the late 3 counted once', async () => {
    const quarter = 15 * 60_000;
    const leftOfQuarter = quarter - (Date.now() % quarter);
    if (leftOfQuarter < 30_000) await new Promise((resolve) => setTimeout(resolve, leftOfQuarter + 1_000)); // all of it in one quarter hour
    const accountId = (await openAccount(ctx, { owner: { kind: 'USER', externalId: `partial-${key()}` } })).accountId;
    const { createdAt: opened } = await ctx.db.prisma.account.findUniqueOrThrow({ where: { id: accountId } });
    await purchase(ctx, { accountId, idempotencyKey: 'opening', actor: service, amount: 10n });
    const lateSpend = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: chat(3), occurredAt: new Date(opened.getTime() + 1) });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: chat(2) });
    const [written] = lateSpend.entries;
    expect(written!.occurredAt).toEqual(new Date(opened.getTime() + 1));
    expect(Math.floor(written!.createdAt.getTime() / quarter)).toBe(Math.floor(opened.getTime() / quarter));
    expect(await usedSince(ctx, accountId, opened)).toEqual({ used: 5n, transactions: 2 });
    expect(await balanceOf(ctx, accountId)).toBe(5n);
  });

  it('a late event is a row of its own: usage either side of it does not join it, in this process or another', async () => {
    const accountId = rows;
    const write = (c: typeof ctx, occurredAt?: Date) => spend(c, { accountId, idempotencyKey: key(), actor: service, charge: chat(1), occurredAt });
    await write(ctx);
    await write(ctx, new Date(Date.now() - 60 * 60_000));
    // On PostgreSQL another process, which reads the account from the database: it learns there that the last entry was late.
    const other = engine === 'postgres' ? await anotherProcess(ctx) : ctx;
    try {
      await write(other);
      await write(other); // joins the one just before it, as usage close together does
    } finally {
      if (other !== ctx) await other.db.close();
    }
    const page = await getActivity(ctx, { accountId, filter: 'USED' });
    expect(page.rows.map((r) => [r.count, r.occurredAt !== null])).toEqual([
      [2, false],
      [1, true],
      [1, false],
    ]);
  });
});
