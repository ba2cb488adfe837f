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

  it('20 purchases of 10, each cancelled and caught up at once as it falls due: landed × 10 is the balance, and no cancelled one landed', async () => {
    const accountId = await newUserAccount(ctx);
    const outcomes: { cancelled: boolean }[] = [];
    for (let i = 0; i < 20; i++) {
      const { scheduled } = await schedulePurchase(ctx, { accountId, idempotencyKey: key('race'), actor: service, amount: 10n, effectiveAt: inDays(1) });
      await ctx.db.sql.query(`UPDATE scheduled_writes SET effective_at = clock_timestamp() + interval '20 milliseconds' WHERE id = $1::uuid`, [scheduled.id]);
      // Both start around the moment it falls due, in either order.
      const [cancel] = await Promise.all([
        sleep(i % 3 === 0 ? 5 : 20 + (i % 5)).then(() => cancelScheduledWrite(ctx, { accountId, scheduledId: scheduled.id, actor: service }).then(() => true, (error: { code?: string }) => {
          expect(error.code).toBe('ALREADY_LANDED');
          return false;
        })),
        sleep(15 + (i % 7)).then(() => landScheduledWrites(ctx, { logger })),
      ]);
      outcomes.push({ cancelled: cancel });
    }
    await sleep(30);
    await landScheduledWrites(ctx, { logger });
    const rows = await ctx.db.sql.query<{ cancelled: boolean; landed: boolean }>(
      'SELECT cancelled_at IS NOT NULL AS cancelled, landed_at IS NOT NULL AS landed FROM scheduled_writes WHERE account_id = $1::uuid ORDER BY created_at',
      [accountId],
    );
    expect(rows.every((r) => r.cancelled !== r.landed)).toBe(true);
    expect(rows.map((r) => r.cancelled)).toEqual(outcomes.map((o) => o.cancelled));
    expect(await balanceOf(ctx, accountId)).toBe(10n * BigInt(rows.filter((r) => r.landed).length));
    await expectLedgerSound(ctx);
  });
});
