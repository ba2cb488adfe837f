import { describe, expect, it } from 'vitest';
import { getBalance } from '../../core/ledger/getBalance.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { reconcileDeposit } from '../../core/ledger/reconcileDeposit.js';
import { refund } from '../../core/ledger/refund.js';
import { reversePurchase } from '../../core/ledger/reversePurchase.js';
import { spend } from '../../core/ledger/spend.js';
import { voidDeposit } from '../../core/ledger/voidDeposit.js';
import { engines } from '../support/databases.js';
import { balanceOf, entryCount, expectError, inDays, key, newUserAccount, service, staff, useFreshLedger } from '../support/scenario.js';

describe.each(engines)('refunds, reversals and voids on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  it('a refund returns credits to the buckets the usage drew from, last-drawn first', async () => {
    const accountId = await newUserAccount(ctx);
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'WEEKLY_GRANT', bucket: 'WEEKLY', amount: 12n, expiresAt: inDays(7) });
    const bought = await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 20n });
    const used = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 6 } });
    expect(used.entries[0]!.movements.map((m) => m.amount)).toEqual([-12n, -6n]);

    const partial = await refund(ctx, { accountId, idempotencyKey: key(), actor: staff, entryId: used.entries[0]!.id, amount: 4n, reason: 'Two images failed' });
    expect(partial.entries[0]).toMatchObject({ type: 'REFUND', amount: 4n, balanceAfter: 18n, correctsId: used.entries[0]!.id, note: 'Two images failed' });
    expect(partial.entries[0]!.movements).toEqual([{ bucketId: bought.entries[0]!.movements[0]!.bucketId, amount: 4n }]);

    const rest = await refund(ctx, { accountId, idempotencyKey: key(), actor: service, entryId: used.entries[0]!.id });
    expect(rest.entries[0]!.amount).toBe(14n);
    expect((await getBalance(ctx, { accountId })).buckets.map((b) => [b.kind, b.remaining])).toEqual([
      ['WEEKLY', 12n],
      ['PURCHASED', 20n],
    ]);
    await expectError(refund(ctx, { accountId, idempotencyKey: key(), actor: service, entryId: used.entries[0]!.id, amount: 1n }), 'REFUND_EXCEEDS_CHARGE');
  });

  it('only usage can be refunded, and only on its own account', async () => {
    const accountId = await newUserAccount(ctx);
    const other = await newUserAccount(ctx);
    const bought = await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 9n });
    await expectError(refund(ctx, { accountId, idempotencyKey: key(), actor: service, entryId: bought.entries[0]!.id }), 'NOT_REFUNDABLE');
    await expectError(refund(ctx, { accountId: other, idempotencyKey: key(), actor: service, entryId: bought.entries[0]!.id }), 'ENTRY_NOT_FOUND');
    await expectError(refund(ctx, { accountId, idempotencyKey: key(), actor: staff, entryId: bought.entries[0]!.id }), 'REASON_REQUIRED');
  });

  it('an affiliate refund takes the purchase back; already spent credits become outstanding', async () => {
    const accountId = await newUserAccount(ctx);
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'PLAN_GRANT', bucket: 'PLAN', amount: 10n, expiresAt: inDays(30) });
    const bought = await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 50n });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 40n, category: 'Chat', description: 'Chat turns' } });
    // 10 plan + 50 purchased - 40 spent (10 plan, 30 purchased) = 20 purchased left.
    const reversal = await reversePurchase(ctx, { accountId, idempotencyKey: key(), actor: service, entryId: bought.entries[0]!.id, reason: 'Chargeback' });
    expect(reversal.entries[0]).toMatchObject({ type: 'PURCHASE_REVERSAL', label: 'Affiliate refund', amount: -20n, balanceAfter: 0n, outstandingAfter: 30n });
    const next = await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'PLAN_GRANT', bucket: 'PLAN', amount: 150n, expiresAt: inDays(60) });
    expect(next.entries.map((e) => [e.type, e.amount, e.balanceAfter, e.outstandingAfter])).toEqual([
      ['PLAN_GRANT', 150n, 150n, 30n],
      ['OUTSTANDING_SETTLEMENT', -30n, 120n, 0n],
    ]);
    await expectError(reversePurchase(ctx, { accountId, idempotencyKey: key(), actor: service, entryId: bought.entries[0]!.id }), 'ALREADY_REVERSED');
    await expectError(reversePurchase(ctx, { accountId, idempotencyKey: key(), actor: service, entryId: reversal.entries[0]!.id }), 'NOT_REVERSIBLE');
  });

  it('a deposit can be voided once; reconciling a settled deposit is refused and writes nothing', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    const submitted = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'submission', clipSeconds: [8, 8, 8, 8, 8, 8] } });
    const voided = await voidDeposit(ctx, { accountId, idempotencyKey: key(), actor: service, depositId: submitted.depositId!, reason: 'Creative withdrawn' });
    expect(voided.entries[0]).toMatchObject({ type: 'DEPOSIT_VOID', label: 'Submission refund', amount: 88n, balanceAfter: 100n });
    const before = await entryCount(ctx, accountId);
    await expectError(voidDeposit(ctx, { accountId, idempotencyKey: key(), actor: service, depositId: submitted.depositId! }), 'DEPOSIT_ALREADY_SETTLED');
    await expectError(
      reconcileDeposit(ctx, { accountId, idempotencyKey: key(), actor: service, depositId: submitted.depositId!, actual: { amount: 10n } }),
      'DEPOSIT_ALREADY_SETTLED',
    );
    expect(await entryCount(ctx, accountId)).toBe(before);
    expect((await getBalance(ctx, { accountId })).inFlightDeposits.count).toBe(0);
  });

  it('reconciling twice is refused; a retry of the same reconciliation is a replay', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    const submitted = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'submission', clipSeconds: [10] } });
    const request = { accountId, idempotencyKey: 'delivery-1', actor: service, depositId: submitted.depositId!, actual: { deliveredSeconds: [10] } };
    const first = await reconcileDeposit(ctx, request);
    expect(first.entries[0]).toMatchObject({ amount: 0n, description: 'Deposit reconciled: delivered exactly the 10 deposited' });
    expect((await reconcileDeposit(ctx, request)).replayed).toBe(true);
    await expectError(reconcileDeposit(ctx, { ...request, idempotencyKey: 'delivery-2' }), 'DEPOSIT_ALREADY_SETTLED');
    await expectError(reconcileDeposit(ctx, { ...request, idempotencyKey: key(), depositId: '00000000-0000-4000-8000-000000000000' }), 'DEPOSIT_NOT_FOUND');
    expect(await balanceOf(ctx, accountId)).toBe(50n);
  });
});

describe.each(engines)('drawdown order on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  it('soonest expiry first, then priority, then oldest; never-expiring purchased credits last', async () => {
    const accountId = await newUserAccount(ctx);
    const post = (type: 'PLAN_GRANT' | 'WEEKLY_GRANT' | 'SIGNUP_BONUS', bucket: 'PLAN' | 'WEEKLY' | 'REWARD' | 'BONUS', amount: bigint, expiresAt?: Date) =>
      grant(ctx, { accountId, idempotencyKey: key(), actor: service, type, bucket, amount, ...(expiresAt ? { expiresAt } : {}) });
    const bought = await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 5n });
    const bonus = await post('SIGNUP_BONUS', 'BONUS', 5n);
    const reward = await post('SIGNUP_BONUS', 'REWARD', 5n);
    const plan = await post('PLAN_GRANT', 'PLAN', 5n, inDays(30));
    const weekly = await post('WEEKLY_GRANT', 'WEEKLY', 5n, inDays(7));
    const used = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 25n, category: 'Chat', description: 'all of it' } });
    const bucketOf = (r: { entries: { movements: { bucketId: string }[] }[] }) => r.entries[0]!.movements[0]!.bucketId;
    expect(used.entries[0]!.movements.map((m) => m.bucketId)).toEqual([weekly, plan, reward, bonus, bought].map(bucketOf));
  });
});
