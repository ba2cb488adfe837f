import { randomBytes, randomUUID } from 'node:crypto';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openAccount } from '../../core/accounts/openAccount.js';
import type { CoreContext } from '../../core/context.js';
import { type Database, openDatabase } from '../../core/db/database.js';
import { migrate, migrationsDir, readMigrations } from '../../core/db/migrate.js';
import { grant } from '../../core/ledger/grant.js';
import { ledgerWrite } from '../../core/ledger/ledgerWrite.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { verifyLedger } from '../../core/ledger/verify.js';
import { seedPlans } from '../../core/plans/planCatalog.js';
import { seedPriceList } from '../../core/pricing/priceList.js';
import { getBalanceAt } from '../../core/reports/balanceAt.js';
import { type Engine, engines, freshContext } from '../support/databases.js';
import { key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';
import { tempDir } from '../support/tempDir.js';

/** Each movement row as the balance at a time reads it: seq, amount and what its bucket held after it. */
async function movementsOf(ctx: CoreContext, accountId: string) {
  const rows = await ctx.db.sql.query<{ bucket_id: string; seq: string; amount: string; remaining_after: string }>(
    `SELECT m.bucket_id, m.seq::text, m.amount::text, m.remaining_after::text FROM movements m
     JOIN entries e ON e.id = m.entry_id AND e.account_id = m.account_id AND e.seq = m.seq
     WHERE m.account_id = $1 ORDER BY m.seq, m.amount`,
    [accountId],
  );
  return rows.map((r) => ({ bucket: r.bucket_id, seq: Number(r.seq), amount: Number(r.amount), after: Number(r.remaining_after) }));
}

const chainBroken = async (db: Database) => (await verifyLedger(db)).checks.find((c) => c.name === 'movement-remaining-chain')!.violations;

describe.each(engines)("each movement's remaining after on %s", (engine) => {
  const ctx = useFreshLedger(engine);

  it('two usage entries of one write on one bucket of 10: 7 after the first, 3 after the second, not 3 and 3', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 10n });
    const turns = key();
    await ledgerWrite(ctx, {
      accountId,
      idempotencyKey: turns,
      operation: 'two chat turns',
      request: { actor: service },
      write: (ledger) => {
        for (const amount of [3n, 4n]) {
          ledger.post({ type: 'USAGE', category: 'Chat', description: 'Chat turn', movements: ledger.draw(amount), actor: service, idempotencyKey: `${turns}#${amount}` });
        }
      },
    });
    const rows = await movementsOf(ctx, accountId);
    expect(rows.map(({ seq, amount, after }) => [seq, amount, after])).toEqual([
      [1, 10, 10],
      [2, -3, 7],
      [3, -4, 3],
    ]);
    expect(new Set(rows.map((r) => r.bucket)).size).toBe(1);
  });

  it('a spend of 12 across a bucket of 5 and one of 20 leaves each its own: 0 and 13', async () => {
    const accountId = await newUserAccount(ctx);
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'PROMO', amount: 5n, priority: 10 });
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 20n });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 12n, category: 'Chat', description: 'Chat turns' } });
    expect((await movementsOf(ctx, accountId)).map(({ seq, amount, after }) => [seq, amount, after])).toEqual([
      [1, 5, 5],
      [2, 20, 20],
      [3, -7, 13],
      [3, -5, 0],
    ]);
  });
});

describe.each(engines)('the verifier on a movement whose remaining after was edited, on %s', (engine) => {
  it('names the movement in movement-remaining-chain, and only there', async () => {
    const ctx = await freshContext(engine);
    try {
      const accountId = await newUserAccount(ctx);
      await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 50n });
      await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 8n, category: 'Chat', description: 'Chat turn' } });
      expect(await chainBroken(ctx.db)).toEqual([]);
      // Bypass the append-only trigger, as a bad hand edit would.
      await ctx.db.sql.transaction(async (tx) => {
        await tx.exec('ALTER TABLE movements DISABLE TRIGGER movements_append_only');
        await tx.query('UPDATE movements SET remaining_after = 41 WHERE account_id = $1 AND seq = 2', [accountId]);
        await tx.exec('ALTER TABLE movements ENABLE TRIGGER movements_append_only');
      });
      const report = await verifyLedger(ctx.db);
      expect(report.checks.filter((c) => c.violations.length > 0).map((c) => c.name)).toEqual(['movement-remaining-chain']);
      expect(await chainBroken(ctx.db)).toMatchObject([{ account_id: accountId, seq: '2', amount: '-8', remaining_after: '41', before: '50' }]);
    } finally {
      await ctx.db.close();
    }
  });
});

/** A database migrated only up to the migration before `name`. */
async function databaseBefore(engine: Engine, name: string): Promise<Database> {
  const dir = tempDir('ck-migrations-');
  for (const m of readMigrations().filter((m) => m.name < name)) cpSync(join(migrationsDir, m.name), join(dir, m.name), { recursive: true });
  let db: Database;
  if (engine === 'pglite') db = await openDatabase({ kind: 'memory' }, { migrate: false });
  else {
    const server = process.env.TEST_DATABASE_URL ?? 'postgresql://root@127.0.0.1:5432/test';
    const database = `ck_test_${randomBytes(6).toString('hex')}`;
    const admin = async (sql: string) => {
      const client = new pg.Client({ connectionString: server });
      await client.connect();
      await client.query(sql).finally(() => client.end());
    };
    await admin(`CREATE DATABASE ${database}`);
    const url = new URL(server);
    url.pathname = `/${database}`;
    const opened = await openDatabase({ kind: 'postgres', url: url.toString() }, { migrate: false });
    db = { ...opened, close: async () => (await opened.close(), await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)) };
  }
  await migrate(db.sql, dir);
  return db;
}

describe.each(engines)('the migration that gives movements their remaining after, on %s', (engine) => {
  it('backfills each bucket in seq order: bought 100, plan 50, spend 70 (50 + 20), refund 30 (10 + 20), spend 5; then writes go on from there', async () => {
    const db = await databaseBefore(engine, '20261223040000_movements_remaining_after');
    const ctx: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
    try {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `u-${randomUUID()}` } });
      const [bought, plan] = [randomUUID(), randomUUID()];
      const start = Date.now() - 60_000;
      const at = (seq: number) => new Date(start + seq * 1000).toISOString();
      await db.sql.query(
        `INSERT INTO buckets (id, account_id, kind, granted, remaining, priority, expires_at, created_at) VALUES
           ($2, $1, 'PURCHASED', 100, 90, 90, NULL, $4), ($3, $1, 'PLAN', 50, 15, 20, now() + interval '20 days', $5)`,
        [accountId, bought, plan, at(1), at(2)],
      );
      // seq, type, amount, balance after, then each movement as bucket and amount
      const history: [number, string, number, number, [string, number][]][] = [
        [1, 'PURCHASE', 100, 100, [[bought, 100]]],
        [2, 'PLAN_GRANT', 50, 150, [[plan, 50]]],
        [3, 'USAGE', -70, 80, [[plan, -50], [bought, -20]]],
        [4, 'REFUND', 30, 110, [[bought, 10], [plan, 20]]],
        [5, 'USAGE', -5, 105, [[plan, -5]]],
      ];
      for (const [seq, type, amount, balanceAfter, movements] of history) {
        const entryId = randomUUID();
        await db.sql.query(
          `INSERT INTO entries (id, account_id, seq, type, description, amount, balance_after, outstanding_after, actor_kind,
             idempotency_key, request_hash, group_seq, created_at)
           VALUES ($1, $2, $3, $4::"EntryType", 'history', $5, $6, 0, 'SERVICE', $7, '', $3, $8)`,
          [entryId, accountId, seq, type, amount, balanceAfter, `old-${seq}`, at(seq)],
        );
        for (const [bucketId, moved] of movements) {
          await db.sql.query('INSERT INTO movements (entry_id, bucket_id, amount) VALUES ($1, $2, $3)', [entryId, bucketId, moved]);
        }
      }
      await db.sql.query('UPDATE accounts SET balance = 105, last_seq = 5 WHERE id = $1', [accountId]);

      // This migration, then every later one (which must carry the backfilled rows along).
      expect((await migrate(db.sql)).applied).toEqual(readMigrations().map((m) => m.name).filter((n) => n >= '20261223040000_movements_remaining_after'));
      const name = (id: string) => (id === bought ? 'bought' : 'plan');
      const backfilled = (await movementsOf(ctx, accountId)).map((r) => [r.seq, name(r.bucket), r.amount, r.after]);
      expect(backfilled).toEqual([
        [1, 'bought', 100, 100],
        [2, 'plan', 50, 50],
        [3, 'plan', -50, 0],
        [3, 'bought', -20, 80],
        [4, 'bought', 10, 90],
        [4, 'plan', 20, 20],
        [5, 'plan', -5, 15],
      ]);
      expect(await chainBroken(db)).toEqual([]);
      const atThree = await getBalanceAt(ctx, { accountId, at: new Date(at(3)) });
      expect(atThree.buckets.map((b) => [name(b.id), b.remaining])).toEqual([['bought', 80n]]);
      const atFour = await getBalanceAt(ctx, { accountId, at: new Date(at(4)) });
      expect(atFour.buckets.map((b) => [name(b.id), b.remaining])).toEqual([['plan', 20n], ['bought', 90n]]);

      // The next spend of 20 takes the plan's 15 first, then 5 bought: the chains go on.
      await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 20n, category: 'Chat', description: 'Chat turns' } });
      expect((await movementsOf(ctx, accountId)).slice(7).map((r) => [r.seq, name(r.bucket), r.amount, r.after])).toEqual([
        [6, 'plan', -15, 0],
        [6, 'bought', -5, 85],
      ]);
      expect(await chainBroken(db)).toEqual([]);
      await expect(db.sql.query('UPDATE movements SET amount = 0')).rejects.toThrow(/append-only/);
    } finally {
      await db.close();
    }
  });
});
