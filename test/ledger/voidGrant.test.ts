import { describe, expect, it } from 'vitest';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { refund } from '../../core/ledger/refund.js';
import { spend } from '../../core/ledger/spend.js';
import { voidGrant } from '../../core/ledger/voidGrant.js';
import { engines } from '../support/databases.js';
import { balanceOf, expectError, expectLedgerSound, inDays, key, newUserAccount, service, staff, useFreshLedger } from '../support/scenario.js';

/**
 * Staff void one grant or purchase: what is left of its bucket leaves with a VOID entry naming
 * it; what was spent stays spent, and the other buckets are not touched.
 */
describe.each(engines)('voiding one grant on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  /** A promo of 30 (expiring first, so drawn first) and 100 purchased; 12 spent from the promo. */
  async function account() {
    const accountId = await newUserAccount(ctx);
    const bought = await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    const promo = await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'PROMO', amount: 30n, expiresAt: inDays(7) });
    const spent = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 12 } });
    return { accountId, purchaseId: bought.entries[0]!.id, promoId: promo.entries[0]!.id, spentId: spent.entries[0]!.id };
  }

  it('a promo of 30 with 12 spent: the 18 left leave, named; the 100 purchased stay; 118 → 100', async () => {
    const { accountId, promoId } = await account();
    expect(await balanceOf(ctx, accountId)).toBe(118n);
    const voided = await voidGrant(ctx, { accountId, idempotencyKey: key(), actor: staff, entryId: promoId, reason: 'Promo given to the wrong account' });
    expect(voided.entries).toHaveLength(1);
    expect(voided.entries[0]).toMatchObject({ type: 'VOID', amount: -18n, balanceAfter: 100n, correctsId: promoId, note: 'Promo given to the wrong account' });
    expect(voided.entries[0]!.description).toBe('18 unused of 30 voided: Signup bonus');
    expect(await balanceOf(ctx, accountId)).toBe(100n);
    await expectLedgerSound(ctx);
  });

  it('once only; a retry under the same key replays; a used-up grant has nothing to void', async () => {
    const { accountId, promoId } = await account();
    const idempotencyKey = key();
    const first = await voidGrant(ctx, { accountId, idempotencyKey, actor: service, entryId: promoId });
    expect((await voidGrant(ctx, { accountId, idempotencyKey, actor: service, entryId: promoId })).replayed).toBe(true);
    await expectError(voidGrant(ctx, { accountId, idempotencyKey: key(), actor: service, entryId: promoId }), 'ALREADY_VOIDED');
    expect(await balanceOf(ctx, accountId)).toBe(first.balance);

    const used = await newUserAccount(ctx);
    const small = await grant(ctx, { accountId: used, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 5n });
    await spend(ctx, { accountId: used, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 5 } });
    await expectError(voidGrant(ctx, { accountId: used, idempotencyKey: key(), actor: service, entryId: small.entries[0]!.id }), 'NOTHING_TO_VOID');
  });

  it('a purchase may be voided (its unused credits); a usage entry may not; staff give a reason', async () => {
    const { accountId, purchaseId, spentId } = await account();
    await expectError(voidGrant(ctx, { accountId, idempotencyKey: key(), actor: service, entryId: spentId }), 'NOT_VOIDABLE');
    await expectError(voidGrant(ctx, { accountId, idempotencyKey: key(), actor: staff, entryId: purchaseId }), 'REASON_REQUIRED');
    const voided = await voidGrant(ctx, { accountId, idempotencyKey: key(), actor: staff, entryId: purchaseId, reason: 'Charged back by the bank' });
    expect(voided.entries[0]).toMatchObject({ amount: -100n, balanceAfter: 18n });
    // Another account's entry is not found here.
    const other = await account();
    await expectError(voidGrant(ctx, { accountId, idempotencyKey: key(), actor: service, entryId: other.promoId }), 'ENTRY_NOT_FOUND');
  });

  it('what was spent stays spent: a refund after the void gives the spent credits back, the voided ones stay gone', async () => {
    const { accountId, promoId, spentId } = await account();
    await voidGrant(ctx, { accountId, idempotencyKey: key(), actor: service, entryId: promoId });
    const refunded = await refund(ctx, { accountId, idempotencyKey: key(), actor: service, entryId: spentId });
    expect(refunded.balance).toBe(112n); // 100 + the 12 spent
    await expectLedgerSound(ctx);
  });
});
