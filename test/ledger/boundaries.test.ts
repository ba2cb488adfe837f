import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoreContext } from '../../core/context.js';
import { adjust } from '../../core/ledger/adjust.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { writeOff } from '../../core/ledger/writeOff.js';
import { engines, freshContext } from '../support/databases.js';
import { balanceOf, entryCount, expectError, expectLedgerSound, key, newUserAccount, service, staff } from '../support/scenario.js';

const chat = (amount: bigint | number | string) => ({ amount, category: 'Chat', description: 'Chat turn' }) as never;

describe.each(engines)('boundaries and bad input on %s', (engine) => {
  let ctx: CoreContext;
  let accountId: string;
  beforeAll(async () => {
    ctx = await freshContext(engine);
    accountId = await newUserAccount(ctx);
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'WEEKLY_GRANT', bucket: 'WEEKLY', amount: 12n, expiresAt: new Date(Date.now() + 7 * 86_400_000) });
  });
  afterAll(async () => {
    await expectLedgerSound(ctx);
    await ctx.db.close();
  });

  it('one over the balance is denied and writes nothing', async () => {
    const before = await entryCount(ctx, accountId);
    const error = await expectError(spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: chat(13n) }), 'INSUFFICIENT_CREDITS');
    expect(error.details).toEqual({ required: '13', available: '12' });
    expect(await entryCount(ctx, accountId)).toBe(before);
    expect(await balanceOf(ctx, accountId)).toBe(12n);
  });

  it('exactly the balance is allowed and leaves 0', async () => {
    const result = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: chat(12n) });
    expect(result.entries[0]).toMatchObject({ amount: -12n, balanceAfter: 0n });
    await expectError(spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: chat(1n) }), 'INSUFFICIENT_CREDITS');
  });

  it.each([
    ['zero', 0n, 'AMOUNT_OUT_OF_RANGE'],
    ['negative', -1n, 'AMOUNT_OUT_OF_RANGE'],
    ['fractional', 1.5, 'VALIDATION_FAILED'],
    ['non-numeric', 'ten', 'VALIDATION_FAILED'],
    ['absurdly large', 10n ** 20n, 'AMOUNT_OUT_OF_RANGE'],
    ['numeric string too long', '9'.repeat(40), 'VALIDATION_FAILED'],
  ] as const)('a %s amount is refused with %s and writes nothing', async (_label, amount, code) => {
    const before = await entryCount(ctx, accountId);
    await expectError(purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: amount as never }), code);
    await expectError(spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: chat(amount) }), code);
    expect(await entryCount(ctx, accountId)).toBe(before);
  });

  it('accepts whole numbers as numbers and numeric strings', async () => {
    const result = await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: '25' as never });
    expect(result.entries[0]!.amount).toBe(25n);
    await writeOff(ctx, { accountId, idempotencyKey: key(), actor: staff, amount: 25, reason: 'test cleanup' });
  });

  it('an unknown account, action or field is a typed error', async () => {
    await expectError(spend(ctx, { accountId: '00000000-0000-4000-8000-000000000000', idempotencyKey: key(), actor: service, charge: chat(1n) }), 'ACCOUNT_NOT_FOUND');
    await expectError(spend(ctx, { accountId: 'not-an-id', idempotencyKey: key(), actor: service, charge: chat(1n) }), 'VALIDATION_FAILED');
    await expectError(spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'teleport', quantity: 1 } }), 'UNKNOWN_ACTION');
    await expectError(spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: '__proto__', quantity: 1 } }), 'UNKNOWN_ACTION');
    await expectError(spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: chat(1n), surprise: true } as never), 'VALIDATION_FAILED');
    await expectError(spend(ctx, { accountId, idempotencyKey: 'has#hash', actor: service, charge: chat(1n) }), 'VALIDATION_FAILED');
  });

  it('staff adjustments and write-offs need a reason', async () => {
    await expectError(adjust(ctx, { accountId, idempotencyKey: key(), actor: staff, amount: 5n, reason: '   ' }), 'REASON_REQUIRED');
    await expectError(writeOff(ctx, { accountId, idempotencyKey: key(), actor: staff, amount: 5n } as never), 'REASON_REQUIRED');
    await expectError(grant(ctx, { accountId, idempotencyKey: key(), actor: staff, type: 'MANUAL_CREDIT', bucket: 'BONUS', amount: 5n }), 'REASON_REQUIRED');
  });

  it('an adjustment adds or removes credits with its note; removing more than the balance is denied', async () => {
    const added = await adjust(ctx, { accountId, idempotencyKey: key(), actor: staff, amount: 10n, reason: 'Compensation for a delivery miss' });
    expect(added.entries[0]).toMatchObject({ type: 'ADJUSTMENT', amount: 10n, note: 'Compensation for a delivery miss', actor: { kind: 'STAFF', id: 'staff-ana' } });
    await expectError(adjust(ctx, { accountId, idempotencyKey: key(), actor: staff, amount: -11n, reason: 'too much' }), 'INSUFFICIENT_CREDITS');
    const removed = await adjust(ctx, { accountId, idempotencyKey: key(), actor: staff, amount: -10n, reason: 'Duplicate compensation' });
    expect(removed.entries[0]).toMatchObject({ amount: -10n, balanceAfter: 0n });
    await expectError(adjust(ctx, { accountId, idempotencyKey: key(), actor: staff, amount: 0n, reason: 'nothing' }), 'AMOUNT_OUT_OF_RANGE');
  });

  it('a grant cannot expire in the past', async () => {
    await expectError(
      grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'PLAN_GRANT', bucket: 'PLAN', amount: 5n, expiresAt: new Date(Date.now() - 1000) }),
      'VALIDATION_FAILED',
    );
  });
});
