import { afterAll, describe, expect, it } from 'vitest';
import type { Database } from '../../core/db/database.js';
import { databaseUrl, freshContext } from '../support/databases.js';
import { freePort } from '../support/freePort.js';
import { expectLedgerSound } from '../support/scenario.js';
import { type CreditkeeperProcess, startCreditkeeper } from './creditkeeperProcess.js';

const subscribers = 3000;

/**
 * Kill -9 in the middle of a renewal batch: a Creditkeeper process renewing 3,000 Free subscriptions three weeks
 * behind is killed once some of its batch's grants have landed and the batch has not moved on; a new process finishes
 * the job. Every one of the 9,000 periods is granted exactly once and every subscription ends three periods on.
 */
describe('a Creditkeeper process killed in the middle of a renewal batch', () => {
  let database: Database | undefined;
  let server: CreditkeeperProcess | undefined;
  afterAll(async () => {
    await server?.kill('SIGKILL');
    await database?.close();
  });

  it('leaves grants whose subscriptions did not move on; the next process moves them on and grants each period once', async () => {
    const ctx = await freshContext('postgres');
    database = ctx.db;
    await ctx.db.sql.query(
      `WITH u AS (INSERT INTO users (external_id) SELECT 'renewal-crash-' || i FROM generate_series(1, $1) i RETURNING id)
       INSERT INTO accounts (owner_kind, user_id) SELECT 'USER', id FROM u`,
      [subscribers],
    );
    // Subscribed three weeks and a minute ago, never renewed: three weekly periods due for each.
    await ctx.db.sql.query(
      `INSERT INTO subscriptions (account_id, plan, anchor_at, period_index, period_start, period_end)
       SELECT id, 'free', now() - interval '21 days 1 minute', 0, now() - interval '21 days 1 minute', now() - interval '14 days 1 minute' FROM accounts`,
    );
    /** Subscriptions with a grant landed for a period they have not moved on to: a batch caught between its grants and its move. */
    const caughtMidBatch = async () =>
      (
        await ctx.db.sql.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM subscriptions s
           WHERE (SELECT count(*) FROM entries e WHERE e.account_id = s.account_id AND e.type = 'WEEKLY_GRANT') > s.period_index`,
        )
      )[0]!.n;
    const url = await databaseUrl(ctx);
    const port = await freePort();
    server = startCreditkeeper(url, port); // its start-up run renews what is due
    let polls = 0;
    while ((await caughtMidBatch()) === 0) {
      if (++polls > 6000) throw new Error('no renewal batch was seen half done within five minutes');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await server.kill('SIGKILL');
    const leftMidBatch = await caughtMidBatch();
    expect(leftMidBatch).toBeGreaterThan(0);
    const [{ due: dueAtKill } = { due: 0 }] = await ctx.db.sql.query<{ due: number }>('SELECT count(*)::int AS due FROM subscriptions WHERE period_end <= now()');
    expect(dueAtKill).toBeGreaterThan(0);

    server = startCreditkeeper(url, port);
    await server.ready();
    const dueNow = async () => (await ctx.db.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM subscriptions WHERE period_end <= now()'))[0]!.n;
    for (let waited = 0; waited < 120_000 && (await dueNow()) > 0; waited += 200) await new Promise((resolve) => setTimeout(resolve, 200));
    await server.kill('SIGTERM');

    const renewals = await ctx.db.sql.query<{ period_index: number; grants: number; keys: number; balance: string }>(
      `SELECT s.period_index, count(e.id)::int AS grants, count(DISTINCT e.idempotency_key)::int AS keys, a.balance::text
       FROM subscriptions s JOIN accounts a ON a.id = s.account_id
       LEFT JOIN entries e ON e.account_id = s.account_id AND e.type = 'WEEKLY_GRANT' AND e.idempotency_key LIKE 'renewal:%'
       GROUP BY s.id, s.period_index, a.balance`,
    );
    expect(renewals).toHaveLength(subscribers);
    // The first two periods are over (their 12 expired at once); the third's 12 are live.
    for (const r of renewals) expect(r).toEqual({ period_index: 3, grants: 3, keys: 3, balance: '12' });
    await expectLedgerSound(ctx);
    console.log(`renewal crash: killed with ${leftMidBatch} subscriptions granted but not moved on and ${dueAtKill} due; all ${subscribers * 3} periods granted once`);
  }, 420_000);
});
