import { describe, expect, it } from 'vitest';
import { isCreditkeeperError } from '../../core/errors.js';
import { adjust } from '../../core/ledger/adjust.js';
import { ledgerWrite } from '../../core/ledger/ledgerWrite.js';
import { purchase } from '../../core/ledger/purchase.js';
import { reconcileDeposit } from '../../core/ledger/reconcileDeposit.js';
import { refund } from '../../core/ledger/refund.js';
import { spend } from '../../core/ledger/spend.js';
import { anotherProcess, engines, freshContext } from '../support/databases.js';
import { balanceOf, expectLedgerSound, key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';

const codeOf = (outcome: PromiseSettledResult<unknown>) =>
  outcome.status === 'fulfilled' ? 'ok' : isCreditkeeperError(outcome.reason) ? outcome.reason.code : String(outcome.reason);

describe.each(engines)('concurrent writers on %s', (engine) => {
  const ctx = useFreshLedger(engine, 24);

  it('60 concurrent spends of 3 on a balance of 100: exactly 33 succeed, none overdraw, entries sum to the balance', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) =>
        spend(ctx, { accountId, idempotencyKey: `image-${i}`, actor: service, charge: { action: 'image', quantity: 1 } }),
      ),
    );
    const succeeded = outcomes.filter((o) => o.status === 'fulfilled');
    const denied = outcomes.filter((o) => o.status === 'rejected' && isCreditkeeperError(o.reason, 'INSUFFICIENT_CREDITS'));
    expect(succeeded).toHaveLength(33);
    expect(denied).toHaveLength(27);
    expect(await balanceOf(ctx, accountId)).toBe(1n);
    const entries = await ctx.db.prisma.entry.findMany({ where: { accountId }, orderBy: { seq: 'asc' } });
    expect(entries.reduce((sum, e) => sum + e.amount, 0n)).toBe(1n);
    expect(entries.map((e) => e.balanceAfter)).toEqual([100n, ...Array.from({ length: 33 }, (_, i) => 100n - 3n * BigInt(i + 1))]);
  });

  it('writes queued on a busy account are committed together, and one that fails fails alone', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 50n });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        i % 3 === 1
          ? spend(ctx, { accountId, idempotencyKey: `big-${i}`, actor: service, charge: { amount: 1000n, category: 'Chat', description: 'too big' } })
          : i % 3 === 2
            ? adjust(ctx, { accountId, idempotencyKey: `adj-${i}`, actor: { kind: 'STAFF', id: 'ana' }, amount: 1n, reason: `batch ${i}` })
            : spend(ctx, { accountId, idempotencyKey: `img-${i}`, actor: service, charge: { action: 'image', quantity: 1 } }),
      ),
    );
    expect(outcomes.map(codeOf).filter((c) => c === 'INSUFFICIENT_CREDITS')).toHaveLength(10);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(20);
    // 50 + 10 adjustments of 1 - 10 images of 3 = 30.
    expect(await balanceOf(ctx, accountId)).toBe(30n);
    const entries = await ctx.db.prisma.entry.findMany({ where: { accountId }, orderBy: { seq: 'asc' } });
    expect(entries).toHaveLength(21);
    // Writes of one batch share their moment: far fewer moments than writes means they were batched.
    expect(new Set(entries.map((e) => e.createdAt.getTime())).size).toBeLessThan(12);
    const audit = await ctx.db.prisma.auditEntry.findMany({ where: { accountId, action: 'adjust' } });
    expect(audit.map((a) => a.reason).sort()).toEqual(Array.from({ length: 10 }, (_, k) => `batch ${3 * k + 2}`).sort());
    const byId = new Map(entries.map((e) => [e.id, e]));
    for (const row of audit) expect(byId.get(row.entryId!)).toMatchObject({ type: 'ADJUSTMENT', note: row.reason });
  });

  it('purchases and spends interleaved on many accounts lose no update', async () => {
    const accounts = await Promise.all(Array.from({ length: 5 }, () => newUserAccount(ctx)));
    await Promise.all(
      accounts.flatMap((accountId, a) =>
        Array.from({ length: 12 }, (_, i) =>
          i % 3 === 0
            ? purchase(ctx, { accountId, idempotencyKey: `buy-${a}-${i}`, actor: service, amount: 9n })
            : spend(ctx, { accountId, idempotencyKey: `use-${a}-${i}`, actor: service, charge: { action: 'chat', quantity: 1 } }).catch(
                (e: unknown) => {
                  if (!isCreditkeeperError(e, 'INSUFFICIENT_CREDITS')) throw e;
                },
              ),
        ),
      ),
    );
    for (const accountId of accounts) {
      const entries = await ctx.db.prisma.entry.findMany({ where: { accountId } });
      expect(await balanceOf(ctx, accountId)).toBe(entries.reduce((sum, e) => sum + e.amount, 0n));
    }
  });
  it('racing refunds of one usage entry return its credits once', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 30n });
    const used = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 5 } });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => refund(ctx, { accountId, idempotencyKey: `refund-${i}`, actor: service, entryId: used.entries[0]!.id })),
    );
    expect(outcomes.map(codeOf).sort()).toEqual(['REFUND_EXCEEDS_CHARGE', 'REFUND_EXCEEDS_CHARGE', 'REFUND_EXCEEDS_CHARGE', 'REFUND_EXCEEDS_CHARGE', 'REFUND_EXCEEDS_CHARGE', 'REFUND_EXCEEDS_CHARGE', 'REFUND_EXCEEDS_CHARGE', 'ok']);
    expect(await balanceOf(ctx, accountId)).toBe(30n);
  });

  it('racing reconciliations of one deposit settle it once', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 200n });
    const submitted = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'submission', clipSeconds: [8, 8, 8, 8, 8, 8] } });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        reconcileDeposit(ctx, { accountId, idempotencyKey: `delivery-${i}`, actor: service, depositId: submitted.depositId!, actual: { amount: 40n } }),
      ),
    );
    expect(outcomes.filter((o) => codeOf(o) === 'ok')).toHaveLength(1);
    expect(outcomes.filter((o) => codeOf(o) === 'DEPOSIT_ALREADY_SETTLED')).toHaveLength(5);
    expect(await balanceOf(ctx, accountId)).toBe(200n - 88n + 8n);
  });
});

describe('several processes sharing one PostgreSQL', () => {
  it('two Creditkeeper processes spending on one account never overdraw', async () => {
    const first = await freshContext('postgres', 12);
    const second = await anotherProcess(first, 12);
    try {
      const accountId = await newUserAccount(first);
      await purchase(first, { accountId, idempotencyKey: key(), actor: service, amount: 90n });
      const outcomes = await Promise.allSettled(
        Array.from({ length: 80 }, (_, i) =>
          spend(i % 2 ? first : second, { accountId, idempotencyKey: `p${i % 2}-${i}`, actor: service, charge: { action: 'image', quantity: 1 } }),
        ),
      );
      expect(outcomes.filter((o) => codeOf(o) === 'ok')).toHaveLength(30);
      expect(outcomes.filter((o) => codeOf(o) === 'INSUFFICIENT_CREDITS')).toHaveLength(50);
      expect(await balanceOf(first, accountId)).toBe(0n);
      await expectLedgerSound(first);
    } finally {
      await second.db.close();
      await first.db.close();
    }
  });

  it('a write that loses the race to another process is redone under the row lock: not lost, not doubled', async () => {
    const first = await freshContext('postgres');
    const other = await anotherProcess(first);
    try {
      const accountId = await newUserAccount(first);
      await purchase(first, { accountId, idempotencyKey: key(), actor: service, amount: 10n });
      let stagings = 0;
      const result = await ledgerWrite(first, {
        accountId,
        idempotencyKey: 'contested',
        operation: 'test',
        request: { actor: service },
        write: async (ledger) => {
          stagings += 1;
          // The first time, another process lands a purchase between our read and our write.
          if (stagings === 1) await purchase(other, { accountId, idempotencyKey: 'interloper', actor: service, amount: 5n });
          ledger.post({ type: 'USAGE', category: 'Chat', description: 'Chat turn', movements: ledger.draw(8n), actor: service });
        },
      });
      expect(stagings).toBe(2);
      expect(result.entries[0]).toMatchObject({ seq: 3n, amount: -8n, balanceAfter: 7n });
      const entries = await first.db.prisma.entry.findMany({ where: { accountId }, orderBy: { seq: 'asc' } });
      expect(entries.map((e) => [e.idempotencyKey, e.amount, e.balanceAfter])).toEqual([
        [expect.any(String), 10n, 10n],
        ['interloper', 5n, 15n],
        ['contested', -8n, 7n],
      ]);
      await expectLedgerSound(first);
    } finally {
      await other.db.close();
      await first.db.close();
    }
  });
});
