import { describe, expect, it } from 'vitest';
import { grant } from '../../core/ledger/grant.js';
import { DatabaseClock, KnownAccounts } from '../../core/ledger/knownAccounts.js';
import { refund } from '../../core/ledger/refund.js';
import { spend } from '../../core/ledger/spend.js';
import type { SqlRunner } from '../../core/db/sqlRunner.js';
import { engines } from '../support/databases.js';
import { balanceOf, entryCount, expectError, expectLedgerSound, inDays, newUserAccount, service, staff, useFreshLedger } from '../support/scenario.js';
import { watched } from '../support/watchedStatements.js';

const image = (idempotencyKey: string) => ({ idempotencyKey, actor: service, charge: { action: 'image', quantity: 1 } }) as const;

describe.each(engines)('an account this process wrote last is not read again (%s)', (engine) => {
  const base = useFreshLedger(engine);

  it('12 weekly credits, four 3-credit images in one statement each; retries and the fifth image read the account first', async () => {
    const { ctx, reads, flushes } = watched(base);
    const accountId = await newUserAccount(ctx);
    await grant(ctx, { accountId, idempotencyKey: 'weekly', actor: service, type: 'WEEKLY_GRANT', bucket: 'WEEKLY', amount: 12n, expiresAt: inDays(7) });
    expect(reads).toHaveLength(1); // the first write of the account in this process reads it

    expect((await spend(ctx, { accountId, ...image('image-1') })).balance).toBe(9n);
    expect(reads).toHaveLength(1);
    expect(flushes).toHaveLength(2);

    // A retry of a key the process does not remember: the statement refuses to move the account,
    // the account is read, and the answer is the first attempt's.
    const retry = await spend(ctx, { accountId, ...image('image-1') });
    expect(retry).toMatchObject({ replayed: true, balance: 9n });
    expect(reads).toHaveLength(2);
    expect(await entryCount(ctx, accountId)).toBe(2);

    expect((await spend(ctx, { accountId, ...image('image-2') })).balance).toBe(6n);
    expect((await spend(ctx, { accountId, ...image('image-3') })).balance).toBe(3n);
    expect((await spend(ctx, { accountId, ...image('image-4') })).balance).toBe(0n); // exactly the balance
    expect(reads).toHaveLength(2);

    // One over: refused only after a read, since a refusal could be a retry the process cannot tell.
    await expectError(spend(ctx, { accountId, ...image('image-5') }), 'INSUFFICIENT_CREDITS');
    expect(reads).toHaveLength(3);
    // At a balance of 0, the retry of image-2 is still the image it bought, not a refusal.
    expect((await spend(ctx, { accountId, ...image('image-2') })).entries[0]).toMatchObject({ amount: -3n, balanceAfter: 6n });

    expect(await balanceOf(ctx, accountId)).toBe(0n);
    const entries = await ctx.db.prisma.entry.findMany({ where: { accountId }, orderBy: { seq: 'asc' } });
    expect(entries.map((e) => e.balanceAfter)).toEqual([12n, 9n, 6n, 3n, 0n]);
    // Times by the database's clock, never going back.
    const times = entries.map((e) => e.createdAt.getTime());
    expect(times).toEqual(times.toSorted((a, b) => a - b));
    await expectLedgerSound(ctx);
  });
});

describe('what a process knows', () => {
  it('keeps the accounts written most recently, up to its capacity; a write takes its account until it lands again', () => {
    const known = new KnownAccounts(2);
    const account = (id: string) => ({ id, balance: 0n, outstanding: 0n, lastSeq: 1n, openedAt: new Date(0), buckets: [], lastEntry: null, seenAt: null });
    known.remember(account('a'));
    known.remember(account('b'));
    known.remember(account('a')); // written again: now the most recent
    known.remember(account('c'));
    expect(known.take('b')).toBeUndefined();
    expect(known.take('a')?.id).toBe('a');
    expect(known.take('a')).toBeUndefined(); // taken by the write in flight
    expect(known.take('c')?.id).toBe('c');
  });

  it("follows the database's clock, and never goes back before the account's last write", () => {
    const clock = new DatabaseClock();
    const sentAt = Date.now();
    clock.observe(new Date(sentAt + 60_000), sentAt); // a server a minute ahead
    expect(clock.now(null).getTime()).toBeGreaterThanOrEqual(sentAt + 60_000);
    expect(clock.now(null).getTime()).toBeLessThan(Date.now() + 61_000);
    const lastWrite = new Date(Date.now() + 3_600_000);
    expect(clock.now(lastWrite)).toEqual(lastWrite);
  });
});

describe.each(engines)('entry times after a slow state read (%s)', (engine) => {
  const base = useFreshLedger(engine);

  it("an entry stamped from the process's clock is never later than the next one the database stamps", async () => {
    // A state read that waits 600 ms before it reaches the server, as one on a connection opened
    // after a database restart does: measured against the round trip's midpoint, the clock ran 300 ms ahead.
    let slowNextRead = false;
    const sql: SqlRunner = {
      ...base.db.sql,
      query: async (text, params, name) => {
        if (name === 'creditkeeper_read_state' && slowNextRead) {
          slowNextRead = false;
          await new Promise((resolve) => setTimeout(resolve, 600));
        }
        return base.db.sql.query(text, params, name);
      },
    };
    const ctx = { ...base, db: { ...base.db, sql } };
    const accountId = await newUserAccount(ctx);
    await grant(ctx, { accountId, idempotencyKey: 'weekly', actor: service, type: 'WEEKLY_GRANT', bucket: 'WEEKLY', amount: 12n, expiresAt: inDays(7) });
    const first = await spend(ctx, { accountId, ...image('image-1') });
    slowNextRead = true;
    await grant(ctx, { accountId: await newUserAccount(ctx), idempotencyKey: 'weekly', actor: service, type: 'WEEKLY_GRANT', bucket: 'WEEKLY', amount: 12n, expiresAt: inDays(7) });
    await spend(ctx, { accountId, ...image('image-2') }); // known account: stamped by the process's clock
    await refund(ctx, { accountId, idempotencyKey: 'refund-1', actor: staff, entryId: first.entries[0]!.id, reason: 'retry' }); // read: stamped by the database
    await expectLedgerSound(ctx);
  });
});
