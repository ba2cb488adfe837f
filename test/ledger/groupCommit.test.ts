import { describe, expect, it } from 'vitest';
import type { CoreContext } from '../../core/context.js';
import { isCreditkeeperError } from '../../core/errors.js';
import { grant } from '../../core/ledger/grant.js';
import { ledgerWrite, type LedgerWriteSpec } from '../../core/ledger/ledgerWrite.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { anotherProcess, engines, freshContext } from '../support/databases.js';
import { balanceOf, expectLedgerSound, inDays, key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';
import { watched } from '../support/watchedStatements.js';

const chatTurn = (amount: bigint): Pick<LedgerWriteSpec, 'operation' | 'request' | 'batchable' | 'write'> => ({
  operation: 'test',
  request: { actor: service },
  batchable: true,
  write: (ledger) => {
    ledger.post({ type: 'USAGE', category: 'Chat', description: 'Chat turn', movements: ledger.draw(amount), actor: service });
  },
});

/** `count` Free users, each with the 12 weekly credits. */
async function freeUsers(ctx: CoreContext, count: number): Promise<string[]> {
  const accounts: string[] = [];
  for (let i = 0; i < count; i++) {
    const accountId = await newUserAccount(ctx);
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'WEEKLY_GRANT', bucket: 'WEEKLY', amount: 12n, expiresAt: inDays(7) });
    accounts.push(accountId);
  }
  return accounts;
}

describe.each(engines)('group commit across accounts on %s', (engine) => {
  const base = useFreshLedger(engine, 12);

  it("ten Free accounts at once: 12 weekly credits buy four 3-credit images each, every fifth is denied on its own account", async () => {
    const { ctx, flushes } = watched(base);
    const accounts = await freeUsers(ctx, 10);
    flushes.length = 0;
    const outcomes = await Promise.allSettled(
      accounts.flatMap((accountId) =>
        Array.from({ length: 5 }, (_, i) =>
          spend(ctx, { accountId, idempotencyKey: `image-${i}`, actor: service, charge: { action: 'image', quantity: 1 } }),
        ),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(40);
    expect(outcomes.filter((o) => o.status === 'rejected' && isCreditkeeperError(o.reason, 'INSUFFICIENT_CREDITS'))).toHaveLength(10);
    for (const accountId of accounts) {
      expect(await balanceOf(ctx, accountId)).toBe(0n);
      const entries = await ctx.db.prisma.entry.findMany({ where: { accountId }, orderBy: { seq: 'asc' } });
      expect(entries.map((e) => e.balanceAfter)).toEqual([12n, 9n, 6n, 3n, 0n]);
    }
    // 40 spends landed in a handful of statements, most of them covering several accounts.
    expect(flushes.length).toBeLessThan(10);
    expect(Math.max(...flushes.map((f) => f.length))).toBeGreaterThan(1);
    await expectLedgerSound(ctx);
  });

  it('eight Free users each ask for their next image as soon as the last is answered: the next requests go together, not one by one', async () => {
    const { ctx, flushes } = watched(base);
    const accounts = await freeUsers(ctx, 8);
    flushes.length = 0;
    // Four 3-credit images each: the 12 weekly credits, down to exactly 0.
    await Promise.all(
      accounts.map(async (accountId) => {
        for (let i = 0; i < 4; i++) await spend(ctx, { accountId, idempotencyKey: `image-${i}`, actor: service, charge: { action: 'image', quantity: 1 } });
      }),
    );
    for (const accountId of accounts) expect(await balanceOf(ctx, accountId)).toBe(0n);
    // 32 spends in 8 statements: an answered caller's next image joins those already waiting. When
    // each took a free slot as it arrived, they needed 11 (PGlite) to 16 (PostgreSQL).
    expect(flushes.length).toBeLessThanOrEqual(10);
  });

  it('a statement for several accounts that fails is retried account by account: each write lands once', async () => {
    const { ctx, flushes, failFlush } = watched(base);
    const accounts = [await newUserAccount(ctx), await newUserAccount(ctx), await newUserAccount(ctx), await newUserAccount(ctx)];
    for (const accountId of accounts) await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 10n });
    failFlush();
    flushes.length = 0;
    const results = await Promise.all(accounts.map((accountId) => ledgerWrite(ctx, { accountId, idempotencyKey: 'turn-1', ...chatTurn(4n) })));
    expect(results.map((r) => [r.balance, r.replayed])).toEqual(accounts.map(() => [6n, false]));
    for (const accountId of accounts) expect(await balanceOf(ctx, accountId)).toBe(6n);
    // The two started at once went alone; the two that waited failed together, then went one by one.
    expect(flushes.map((f) => f.length)).toEqual([1, 1, 1, 1]);
  });
});

describe('group commit across accounts, two processes on PostgreSQL', () => {
  /**
   * Two writes hold the process's two slots; a write on `contested` and one on `quiet` wait and
   * then go together. While `contested` is staged the first time, another process lands a
   * 5-credit purchase on it. Returns how often `contested` was staged, and the statements sent.
   */
  async function contestedGroup(seedWith: 'this process' | 'the other process') {
    const first = await freshContext('postgres');
    const other = await anotherProcess(first);
    const { ctx, reads, flushes } = watched(first);
    const seeder = seedWith === 'this process' ? ctx : other;
    const [a, b, contested, quiet] = [await newUserAccount(ctx), await newUserAccount(ctx), await newUserAccount(ctx), await newUserAccount(ctx)];
    for (const accountId of [a!, b!, contested!, quiet!]) await purchase(seeder, { accountId, idempotencyKey: key(), actor: service, amount: 10n });
    reads.length = 0;
    flushes.length = 0;

    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const held = [a!, b!].map((accountId) =>
      ledgerWrite(ctx, {
        accountId,
        idempotencyKey: 'held',
        ...chatTurn(1n),
        write: async (ledger) => {
          await gate;
          ledger.post({ type: 'USAGE', category: 'Chat', description: 'Chat turn', movements: ledger.draw(1n), actor: service });
        },
      }),
    );
    let contestedStagings = 0;
    const contestedWrite = ledgerWrite(ctx, {
      accountId: contested!,
      idempotencyKey: 'contested',
      ...chatTurn(8n),
      write: async (ledger) => {
        contestedStagings += 1;
        if (contestedStagings === 1) await purchase(other, { accountId: contested!, idempotencyKey: 'interloper', actor: service, amount: 5n });
        ledger.post({ type: 'USAGE', category: 'Chat', description: 'Chat turn', movements: ledger.draw(8n), actor: service });
      },
    });
    const quietWrite = ledgerWrite(ctx, { accountId: quiet!, idempotencyKey: 'quiet', ...chatTurn(3n) });
    release();
    await Promise.all(held);

    // Either way each write lands once, on the account as it really was.
    expect((await contestedWrite).entries[0]).toMatchObject({ seq: 3n, amount: -8n, balanceAfter: 7n });
    expect((await quietWrite).entries[0]).toMatchObject({ seq: 2n, amount: -3n, balanceAfter: 7n });
    const entries = await ctx.db.prisma.entry.findMany({ where: { accountId: contested! }, orderBy: { seq: 'asc' } });
    expect(entries.map((e) => [e.idempotencyKey, e.amount, e.balanceAfter])).toEqual([
      [expect.any(String), 10n, 10n],
      ['interloper', 5n, 15n],
      ['contested', -8n, 7n],
    ]);
    expect(await ctx.db.prisma.entry.count({ where: { accountId: quiet! } })).toBe(2);
    await expectLedgerSound(ctx);
    const close = async () => {
      await other.db.close();
      await first.db.close();
    };
    return { contested: contested!, quiet: quiet!, contestedStagings, reads, flushes, close };
  }

  it('accounts this process wrote last go unread; one another process wrote meanwhile is read and written again, the other lands as it was', async () => {
    const run = await contestedGroup('this process');
    try {
      expect(run.contestedStagings).toBe(2);
      expect(run.flushes).toContainEqual(expect.arrayContaining([run.contested, run.quiet]));
      // No read before that statement; the contested account alone after it.
      expect(run.reads).toEqual([[run.contested]]);
    } finally {
      await run.close();
    }
  });

  it('an account another process wrote between its read and its statement is redone alone under its lock; the other lands as it was', async () => {
    const run = await contestedGroup('the other process');
    try {
      expect(run.contestedStagings).toBe(2);
      expect(run.reads).toContainEqual(expect.arrayContaining([run.contested, run.quiet]));
      expect(run.flushes).toContainEqual(expect.arrayContaining([run.contested, run.quiet]));
      // Redone in a transaction under the row lock: not through another read of the group.
      expect(run.reads.filter((read) => read.includes(run.contested))).toHaveLength(1);
    } finally {
      await run.close();
    }
  });
});
