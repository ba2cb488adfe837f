import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { cancelScheduledWrite } from '../../core/ledger/cancelScheduledWrite.js';
import { landScheduledWrites } from '../../core/ledger/landScheduledWrites.js';
import { schedulePurchase } from '../../core/ledger/schedulePurchase.js';
import { engines } from '../support/databases.js';
import { balanceOf, expectLedgerSound, inDays, key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';

const logger = pino({ level: 'silent' });

/**
 * A cancel racing the catch-up at the moment a schedule falls due: either the cancel wins and
 * nothing lands, or it is refused (ALREADY_LANDED) and the credits land once. Never both.
 */
describe.each(engines)('cancelling at the moment it falls due on %s', (engine) => {
  const ctx = useFreshLedger(engine, 4);

  it('21 purchases of 10: 7 cancelled before due, 7 cancelled after landing, 7 cancelled and caught up at once as they fall due: landed × 10 is the balance, and no cancelled one landed', async () => {
    const accountId = await newUserAccount(ctx);
    const outcomes: { cancelled: boolean }[] = [];
    const cancel = (scheduledId: string) =>
      cancelScheduledWrite(ctx, { accountId, scheduledId, actor: service }).then(() => true, (error: { code?: string }) => {
        expect(error.code).toBe('ALREADY_LANDED');
        return false;
      });
    const land = () => landScheduledWrites(ctx, { logger });
    for (let i = 0; i < 21; i++) {
      const { scheduled } = await schedulePurchase(ctx, { accountId, idempotencyKey: key('race'), actor: service, amount: 10n, effectiveAt: inDays(1) });
      await ctx.db.sql.query(`UPDATE scheduled_writes SET effective_at = clock_timestamp() + interval '20 milliseconds' WHERE id = $1::uuid`, [scheduled.id]);
      let cancelled: boolean;
      if (i % 3 === 0) {
        // Cancelled before it is due: the catch-up after finds nothing.
        cancelled = await cancel(scheduled.id);
        await sleep(40).then(land);
        expect(cancelled).toBe(true);
      } else if (i % 3 === 1) {
        // Landed first: the cancel is refused.
        await sleep(40).then(land);
        cancelled = await cancel(scheduled.id);
        expect(cancelled).toBe(false);
      } else {
        // Both start around the moment it falls due, in either order.
        [cancelled] = await Promise.all([sleep(18 + (i % 5)).then(() => cancel(scheduled.id)), sleep(15 + (i % 7)).then(land)]);
      }
      outcomes.push({ cancelled });
    }
    await sleep(30);
    await landScheduledWrites(ctx, { logger });
    const rows = await ctx.db.sql.query<{ cancelled: boolean; landed: boolean }>(
      'SELECT cancelled_at IS NOT NULL AS cancelled, landed_at IS NOT NULL AS landed FROM scheduled_writes WHERE account_id = $1::uuid ORDER BY created_at',
      [accountId],
    );
    expect(rows.every((r) => r.cancelled !== r.landed)).toBe(true);
    expect(outcomes.some((o) => o.cancelled)).toBe(true);
    expect(outcomes.some((o) => !o.cancelled)).toBe(true);
    expect(rows.map((r) => r.cancelled)).toEqual(outcomes.map((o) => o.cancelled));
    expect(await balanceOf(ctx, accountId)).toBe(10n * BigInt(rows.filter((r) => r.landed).length));
    await expectLedgerSound(ctx);
  });
});
