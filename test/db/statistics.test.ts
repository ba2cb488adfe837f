import { describe, expect, it } from 'vitest';
import { refreshStatistics } from '../../core/db/database.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { readStateStatement } from '../../core/ledger/writeStatements.js';
import { freshContext } from '../support/databases.js';
import { newUserAccount, service } from '../support/scenario.js';

/**
 * A connection prepares the ledger's state read once. Prepared while the tables were empty, its
 * plan finds a key by walking the account's entries; the server this project runs on has no
 * autovacuum, so nothing would ever make it plan again but the statistics refresh.
 */
describe('planner statistics on PostgreSQL', () => {
  it('a state read prepared on empty tables finds keys through the unique index once the statistics are refreshed', async () => {
    const ctx = await freshContext('postgres', 1); // one connection: the one that prepared the read
    try {
      const accountId = await newUserAccount(ctx);
      await purchase(ctx, { accountId, idempotencyKey: 'opening', actor: service, amount: 100_000n });
      // Six writes make PostgreSQL settle on a generic plan for the prepared read.
      for (let i = 0; i < 6; i++) {
        await spend(ctx, { accountId, idempotencyKey: `early-${i}`, actor: service, charge: { action: 'image', quantity: 1 } });
      }
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
        await refreshStatistics(ctx.db.sql);
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
});
