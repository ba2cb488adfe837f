import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CoreContext } from '../../core/context.js';
import { renewDueSubscriptions } from '../../core/plans/renewDueSubscriptions.js';
import { subscribe } from '../../core/plans/subscribe.js';
import { anotherProcess, engines } from '../support/databases.js';
import { key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';

const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
const subscribers = 500;

/**
 * Two renewal runs at once over 500 due subscriptions: on PostgreSQL from two processes (two pools, two write
 * engines), each claiming batches the other skips; on PGlite two runs in its one process, kept to one grant by the
 * renewal's key. Every subscription is renewed exactly once: 12 expired, 12 granted, one period on.
 */
/** Opens `count` Free subscriptions and moves them a week and a minute back: every one's next grant is due. */
async function dueFreeSubscriptions(ctx: CoreContext, count: number): Promise<void> {
  for (let i = 0; i < count; i += 10) {
    const opened = await Promise.all(Array.from({ length: Math.min(10, count - i) }, () => newUserAccount(ctx)));
    await Promise.all(opened.map((accountId) => subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'free' })));
  }
  await ctx.db.sql.query(
    `UPDATE subscriptions SET anchor_at = anchor_at - interval '7 days 1 minute', period_start = period_start - interval '7 days 1 minute',
       period_end = period_end - interval '7 days 1 minute'`,
  );
}

describe.each(engines)('two renewal runs over %s subscriptions due at once', (engine) => {
  const ctx = useFreshLedger(engine);

  it(`renew each of ${subscribers} Free subscriptions once: balance 12, three entries, period 1`, async () => {
    await dueFreeSubscriptions(ctx, subscribers);
    const other: CoreContext = engine === 'postgres' ? await anotherProcess(ctx) : ctx;
    try {
      // Small batches, so that the two runs take turns claiming.
      const runs = await Promise.all([ctx, other].map((on) => renewDueSubscriptions(on, { logger, batchSize: 40 })));
      expect(runs.reduce((sum, r) => sum + r.granted, 0)).toBe(subscribers);
      expect(runs.reduce((sum, r) => sum + r.failed, 0)).toBe(0);
      // PostgreSQL: a run never claims what the other holds. PGlite's two runs may claim the same batch: the second replays.
      if (engine === 'postgres') expect(runs.reduce((sum, r) => sum + r.alreadyGranted, 0)).toBe(0);
    } finally {
      if (other !== ctx) await other.db.close();
    }

    const perAccount = await ctx.db.sql.query<{ balance: string; entries: number; grants: number; expired: string; period_index: number }>(
      `SELECT a.balance::text, s.period_index,
         (SELECT count(*)::int FROM entries e WHERE e.account_id = a.id) AS entries,
         (SELECT count(*)::int FROM entries e WHERE e.account_id = a.id AND e.type = 'WEEKLY_GRANT' AND e.idempotency_key LIKE 'renewal:%') AS grants,
         (SELECT coalesce(sum(e.amount), 0)::text FROM entries e WHERE e.account_id = a.id AND e.type = 'EXPIRY') AS expired
       FROM accounts a JOIN subscriptions s ON s.account_id = a.id`,
    );
    expect(perAccount).toHaveLength(subscribers);
    for (const row of perAccount) expect(row).toEqual({ balance: '12', entries: 3, grants: 1, expired: '-12', period_index: 1 });

    // Nothing is due any more: a third run grants nothing.
    expect(await renewDueSubscriptions(ctx, { logger })).toMatchObject({ ran: true, granted: 0, alreadyGranted: 0, failed: 0 });
  }, 120_000);
});

/**
 * Every due subscription locked by another process's renewal (its claim's row locks, held open): this run claims
 * nothing and reports it did not run (counted as skipped); once the locks go, the next run renews all of them.
 */
describe('a renewal run while another process holds every due subscription on postgres', () => {
  const ctx = useFreshLedger('postgres');

  it('20 due subscriptions locked: ran false, 0 granted; unlocked: 20 granted', async () => {
    await dueFreeSubscriptions(ctx, 20);
    const other = await anotherProcess(ctx);
    try {
      const whileHeld = await other.db.sql.transaction(async (session) => {
        const locked = await session.query<{ id: string }>(`SELECT id FROM subscriptions WHERE status = 'ACTIVE' AND period_end <= clock_timestamp() FOR UPDATE`);
        expect(locked).toHaveLength(20);
        return renewDueSubscriptions(ctx, { logger });
      });
      expect(whileHeld).toMatchObject({ ran: false, granted: 0, alreadyGranted: 0, failed: 0 });
    } finally {
      await other.db.close();
    }
    expect(await renewDueSubscriptions(ctx, { logger })).toMatchObject({ ran: true, granted: 20, alreadyGranted: 0, failed: 0 });
  }, 60_000);
});
