import { describe, expect, it } from 'vitest';
import { maintainTables } from '../../core/db/database.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { readStateStatement } from '../../core/ledger/writeStatements.js';
import { freshContext } from '../support/databases.js';
import { balanceOf, newUserAccount, service } from '../support/scenario.js';

/**
 * Planning a write's statements costs more than running them, so each connection should plan them
 * once and reuse the plan. A connection prepares the ledger's state read once. Prepared while the tables were empty, its
 * plan finds a key by walking the account's entries; the server this project runs on has no
 * autovacuum, so nothing would ever make it plan again but the statistics refresh.
 */
describe('table maintenance and plans on PostgreSQL', () => {
  it('a state read prepared on empty tables finds keys through the unique index once the statistics are refreshed', async () => {
    const ctx = await freshContext('postgres', 1); // one connection: the one that prepared the read
    try {
      // Six reads make PostgreSQL settle on a generic plan for the prepared read: the first write of
      // each of six accounts (a process reads an account only until it has written it).
      const accounts = [];
      for (let i = 0; i < 6; i++) {
        const accountId = await newUserAccount(ctx);
        await purchase(ctx, { accountId, idempotencyKey: 'opening', actor: service, amount: 100_000n });
        accounts.push(accountId);
      }
      const accountId = accounts[0]!;
      await ctx.db.sql.query(
        `INSERT INTO entries (id, account_id, seq, type, description, amount, balance_after, outstanding_after, actor_kind,
           idempotency_key, request_hash, group_seq, created_at)
         SELECT gen_random_uuid(), $1::uuid, 1000 + g, 'USAGE', 'history', 0, 0, 0, 'SYSTEM', 'history-' || g, 'x', 1000 + g, now()
         FROM generate_series(1, 5000) g`,
        [accountId],
      );
      const lookup = async () => {
        const rows = await ctx.db.sql.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN EXECUTE creditkeeper_read_state('${JSON.stringify([{ id: accountId, keys: ['next'] }])}')`,
        );
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      };
      // A key found by the index, or by filtering every entry of the account.
      const walksHistory = (plan: string) => plan.includes('Filter: (idempotency_key = k.key)');
      const usesKeyIndex = (plan: string) => plan.includes('Index Cond: ((account_id = accounts.id) AND (idempotency_key = k.key))');

      expect(readStateStatement).toContain('e.idempotency_key = k.key');
      expect(walksHistory(await lookup())).toBe(true);

      // The statistics views catch up within a second or so of a transaction's end.
      for (let waited = 0; waited < 10_000; waited += 250) {
        await ctx.db.sql.withSession(maintainTables);
        if (usesKeyIndex(await lookup())) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const after = await lookup();
      expect(usesKeyIndex(after)).toBe(true);
      expect(walksHistory(after)).toBe(false);
    } finally {
      await ctx.db.close();
    }
  });

  it('the flush keeps one generic plan per connection instead of planning every write (20 spends over 1, 2 and 3 accounts)', async () => {
    const ctx = await freshContext('postgres', 1); // one connection: its prepared statements are the ones shown
    try {
      const accounts = [await newUserAccount(ctx), await newUserAccount(ctx), await newUserAccount(ctx)];
      await Promise.all(accounts.map((accountId, i) => purchase(ctx, { accountId, idempotencyKey: `opening-${i}`, actor: service, amount: 1_000n })));
      // Among 10,000 others, as a server holds them: on a handful of rows every plan costs the same.
      await ctx.db.sql.query(
        `WITH u AS (INSERT INTO users (external_id) SELECT 'other-' || g FROM generate_series(1, 10000) g RETURNING id)
         INSERT INTO accounts (owner_kind, user_id) SELECT 'USER', id FROM u`,
      );
      await ctx.db.sql.exec('ANALYZE');
      for (let i = 0; i < 20; i++) {
        // Groups of one, two and three accounts: the document's size must not change the plan.
        const group = accounts.slice(0, 1 + (i % 3));
        await Promise.all(group.map((accountId) => spend(ctx, { accountId, idempotencyKey: `image-${i}`, actor: service, charge: { action: 'image', quantity: 1 } })));
      }
      const [flush] = await ctx.db.sql.query<{ generic_plans: string; custom_plans: string }>(
        `SELECT generic_plans::text, custom_plans::text FROM pg_prepared_statements WHERE name = 'creditkeeper_flush_uem'`,
      );
      // PostgreSQL tries five custom plans before it compares them with the generic one.
      expect(Number(flush!.custom_plans)).toBeLessThanOrEqual(5);
      expect(Number(flush!.generic_plans)).toBeGreaterThanOrEqual(10);
    } finally {
      await ctx.db.close();
    }
  });

  it("vacuums what a hundred spends left behind, where the server's autovacuum is off; leaves it to autovacuum where it runs", async () => {
    const ctx = await freshContext('postgres');
    try {
      const accountId = await newUserAccount(ctx);
      await purchase(ctx, { accountId, idempotencyKey: 'opening', actor: service, amount: 1_000n });
      // Each spend leaves the bucket's and the account's previous row versions dead.
      for (let i = 0; i < 100; i++) {
        await spend(ctx, { accountId, idempotencyKey: `image-${i}`, actor: service, charge: { action: 'image', quantity: 1 } });
      }
      const [server] = await ctx.db.sql.query<{ autovacuum: string }>("SELECT current_setting('autovacuum') AS autovacuum");
      const vacuumed = async () => {
        const [row] = await ctx.db.sql.query<{ vacuumed: boolean }>(
          "SELECT last_vacuum IS NOT NULL AS vacuumed FROM pg_stat_user_tables WHERE relname = 'buckets'",
        );
        return row!.vacuumed;
      };
      // The statistics views catch up within a second or so of a transaction's end.
      for (let waited = 0; waited < 10_000 && !(await vacuumed()); waited += 250) {
        await ctx.db.sql.withSession(maintainTables);
        if (server!.autovacuum === 'on') break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(await vacuumed()).toBe(server!.autovacuum === 'off');
      expect(await balanceOf(ctx, accountId)).toBe(700n); // 1,000 − 100 images × 3
    } finally {
      await ctx.db.close();
    }
  });
});
