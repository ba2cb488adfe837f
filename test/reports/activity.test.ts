import { describe, expect, it } from 'vitest';
import type { CoreContext } from '../../core/context.js';
import { adjust } from '../../core/ledger/adjust.js';
import { grant, writeGrant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { refund } from '../../core/ledger/refund.js';
import { spend } from '../../core/ledger/spend.js';
import { getActivity } from '../../core/reports/activity.js';
import { getActivityGroup } from '../../core/reports/activityGroup.js';
import { engines } from '../support/databases.js';
import { expectError, inDays, key, newUserAccount, service, staff, useFreshLedger } from '../support/scenario.js';

/** Usage that never groups (a different source each time), so each spend is one row. */
async function spendRows(ctx: CoreContext, accountId: string, count: number, label = 'x') {
  for (let i = 0; i < count; i++) {
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat' }, source: { kind: 'project', id: `${label}${i}` } });
  }
}

describe.each(engines)('the activity log on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  it('newest first, each row with its type, signed amount and balance after', async () => {
    const accountId = await newUserAccount(ctx);
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'WEEKLY_GRANT', bucket: 'WEEKLY', amount: 12n, expiresAt: inDays(7) });
    await writeGrant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'DISCORD_REWARD', bucket: 'REWARD', amount: 5n });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 2 } });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'animation' } });
    const page = await getActivity(ctx, { accountId });
    expect(page.rows.map((r) => [r.label, r.category, r.amount, r.balanceAfter])).toEqual([
      ['Usage', 'Animation generation', 0n, 11n],
      ['Usage', 'Image generation', -6n, 11n],
      ['Discord reward', null, 5n, 17n],
      ['Weekly grant', null, 12n, 12n],
    ]);
    expect(page.rows[1]).toMatchObject({ action: 'image', quantity: 2, count: 1 });
    expect(page.showing).toEqual({ from: 1, to: 4, total: 4 });
    expect(page.next).toBeNull();
    expect(page.previous).toBeNull();
  });

  it('"Showing 1-8 of 23", Previous and Next walk the filtered list', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    await spendRows(ctx, accountId, 22);
    const first = await getActivity(ctx, { accountId, pageSize: 8 });
    expect(first.showing).toEqual({ from: 1, to: 8, total: 23 });
    const second = await getActivity(ctx, { accountId, pageSize: 8, cursor: first.next! });
    expect(second.showing).toEqual({ from: 9, to: 16, total: 23 });
    const third = await getActivity(ctx, { accountId, pageSize: 8, cursor: second.next! });
    expect(third.showing).toEqual({ from: 17, to: 23, total: 23 });
    expect(third.next).toBeNull();
    expect(third.rows.at(-1)!.label).toBe('Top-up purchase');
    const back = await getActivity(ctx, { accountId, pageSize: 8, cursor: third.previous! });
    expect(back.showing).toEqual(second.showing);
    expect(back.rows.map((r) => r.seq)).toEqual(second.rows.map((r) => r.seq));
    const start = await getActivity(ctx, { accountId, pageSize: 8, cursor: back.previous! });
    expect(start.rows.map((r) => r.seq)).toEqual(first.rows.map((r) => r.seq));
    expect(start.previous).toBeNull();
  });

  it('25 entries a page by default', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    await spendRows(ctx, accountId, 30);
    const page = await getActivity(ctx, { accountId });
    expect(page.rows).toHaveLength(25);
    expect(page.showing).toEqual({ from: 1, to: 25, total: 31 });
  });

  it('Added / Used / Adjustments, and changing the filter goes back to page 1', async () => {
    const accountId = await newUserAccount(ctx);
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'PLAN_GRANT', bucket: 'PLAN', amount: 150n, expiresAt: inDays(30) });
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 50n });
    const used = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 3 } });
    await spendRows(ctx, accountId, 4);
    await refund(ctx, { accountId, idempotencyKey: key(), actor: staff, entryId: used.entries[0]!.id, amount: 3n, reason: 'One image failed' });
    await adjust(ctx, { accountId, idempotencyKey: key(), actor: staff, amount: 10n, reason: 'Delivery miss' });
    const labels = async (filter: 'ADDED' | 'USED' | 'ADJUSTMENTS') =>
      (await getActivity(ctx, { accountId, filter })).rows.map((r) => r.label);
    expect(await labels('ADDED')).toEqual(['Top-up purchase', 'Monthly grant']);
    expect(await labels('USED')).toHaveLength(5);
    expect(await labels('ADJUSTMENTS')).toEqual(['Admin adjustment', 'Credit refund']);
    const adjustments = await getActivity(ctx, { accountId, filter: 'ADJUSTMENTS' });
    expect(adjustments.rows[0]!.note).toBe('Delivery miss');

    const firstUsed = await getActivity(ctx, { accountId, filter: 'USED', pageSize: 2 });
    const usedPage2 = await getActivity(ctx, { accountId, filter: 'USED', pageSize: 2, cursor: firstUsed.next! });
    expect(usedPage2.showing.from).toBe(3);
    const switched = await getActivity(ctx, { accountId, filter: 'ADDED', pageSize: 2, cursor: firstUsed.next! });
    expect(switched.showing).toEqual({ from: 1, to: 2, total: 2 });
    const byType = await getActivity(ctx, { accountId, types: ['REFUND', 'PURCHASE'] });
    expect(byType.rows.map((r) => r.type)).toEqual(['REFUND', 'PURCHASE']);
    const bySource = await getActivity(ctx, { accountId, source: { kind: 'project', id: 'x2' } });
    expect(bySource.rows).toHaveLength(1);
    const byCategory = await getActivity(ctx, { accountId, category: 'Image generation' });
    expect(byCategory.rows.map((r) => [r.type, r.amount])).toEqual([
      ['REFUND', 3n],
      ['USAGE', -9n],
    ]);
  });

  it('usage close together shows as one row with its time window, count and combined amount', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    const image = (n: number) => spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: n }, source: { kind: 'project', id: 'launch' } });
    await image(1);
    await image(2);
    await image(1);
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 3 } });
    await image(1);
    const page = await getActivity(ctx, { accountId });
    expect(page.rows.map((r) => [r.category, r.count, r.quantity, r.amount, r.balanceAfter])).toEqual([
      ['Image generation', 1, 1, -3n, 82n],
      ['Chat', 1, 3, -3n, 85n],
      ['Image generation', 3, 4, -12n, 88n],
      [null, 1, null, 100n, 100n],
    ]);
    const group = page.rows[2]!;
    expect(group.endedAt.getTime()).toBeGreaterThanOrEqual(group.startedAt.getTime());
    const entries = await getActivityGroup(ctx, { accountId, seq: group.seq });
    expect(entries.map((e) => [e.amount, e.balanceAfter])).toEqual([
      [-3n, 97n],
      [-6n, 91n],
      [-3n, 88n],
    ]);
    await expectError(getActivityGroup(ctx, { accountId, seq: group.seq + 1n }), 'ENTRY_NOT_FOUND');
  });

  it('a group closes when its window has passed', async () => {
    const quick = { ...ctx, usageGroupWindowMs: 300 };
    const accountId = await newUserAccount(quick);
    await purchase(quick, { accountId, idempotencyKey: key(), actor: service, amount: 10n });
    await spend(quick, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat' } });
    await spend(quick, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat' } });
    await new Promise((resolve) => setTimeout(resolve, 350));
    await spend(quick, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat' } });
    expect((await getActivity(quick, { accountId })).rows.map((r) => r.count)).toEqual([1, 2, 1]);
  });

  it('paging never skips or repeats a row while new entries arrive', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    await spendRows(ctx, accountId, 19, 'old');
    const seen: bigint[] = [];
    let page = await getActivity(ctx, { accountId, pageSize: 6 });
    for (let round = 0; ; round++) {
      seen.push(...page.rows.map((r) => r.seq));
      await spendRows(ctx, accountId, 3, `new${round}-`); // arrive between page loads
      if (!page.next) break;
      page = await getActivity(ctx, { accountId, pageSize: 6, cursor: page.next });
    }
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(20 - i)));
  });

  it('bad input: unknown filters, backwards or absurd ranges, forged cursors, pages past the end', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 5n });
    await expectError(getActivity(ctx, { accountId, filter: 'SPENT' as never }), 'VALIDATION_FAILED');
    await expectError(getActivity(ctx, { accountId, types: ['GIFT' as never] }), 'VALIDATION_FAILED');
    await expectError(getActivity(ctx, { accountId, from: new Date('2026-02-01'), to: new Date('2026-01-01') }), 'VALIDATION_FAILED');
    await expectError(getActivity(ctx, { accountId, from: new Date('0001-01-01'), to: new Date('9999-01-01') }), 'VALIDATION_FAILED');
    await expectError(getActivity(ctx, { accountId, from: 'yesterday' as never }), 'VALIDATION_FAILED');
    await expectError(getActivity(ctx, { accountId, cursor: 'not-a-cursor' }), 'VALIDATION_FAILED');
    await expectError(getActivity(ctx, { accountId, pageSize: 0 }), 'VALIDATION_FAILED');
    await expectError(getActivity(ctx, { accountId: '00000000-0000-4000-8000-000000000000' }), 'ACCOUNT_NOT_FOUND');
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat' } });
    const first = await getActivity(ctx, { accountId, pageSize: 1 });
    const last = await getActivity(ctx, { accountId, pageSize: 1, cursor: first.next! });
    expect(last.next).toBeNull();
    const cursor = JSON.parse(Buffer.from(first.next!, 'base64url').toString()) as { olderThan: string };
    const beyond = Buffer.from(JSON.stringify({ ...cursor, olderThan: '1' })).toString('base64url');
    const past = await getActivity(ctx, { accountId, pageSize: 1, cursor: beyond });
    expect(past.rows).toEqual([]);
    expect(past.showing).toEqual({ from: 0, to: 0, total: 2 });
    const empty = await getActivity(ctx, { accountId, types: ['AD_REWARD'] });
    expect(empty).toEqual({ rows: [], showing: { from: 0, to: 0, total: 0 }, next: null, previous: null });
  });
});
