import { describe, expect, it } from 'vitest';
import { openAccount } from '../../core/accounts/openAccount.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { consoleChat } from './consoleChat.js';
import { balanceOf, entryCount, key, service, useFreshLedger } from '../support/scenario.js';

/** /cost answers before anything is spent; staff /void takes back what is left of one grant. */
describe('/cost and /void in chat', () => {
  const ctx = useFreshLedger('pglite');
  const say = consoleChat(ctx);

  it('a six-clip submission at 8 s costs 88 of 100; with one 30 s clip forgotten it costs more; nothing is spent', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'olga', displayName: 'Olga' } });
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    const six = await say('olga', '/cost action:submission clips:8,8,8,8,8,8');
    expect(six).toContain('would cost 88 credits (40 + a deposit of 48 for the clips');
    expect(six).toContain('You have 100; after it, 12 (from 88 purchased).');
    const long = await say('olga', '/cost action:submission clips:8,8,8,8,8,30');
    expect(long).toContain('would cost 92 credits');
    expect(await say('olga', '/cost action:image quantity:40')).toContain('Not enough credits now: it needs 120, you have 100.');
    expect(await say('olga', '/cost action:teleport')).toBe('That action has no price.');
    expect(await say('olga', '/cost action:image quantity:lots')).not.toMatch(/Error:|at .*\.ts/);
    expect([await entryCount(ctx, accountId), await balanceOf(ctx, accountId)]).toEqual([1, 100n]);
  });

  it('staff void a promo of 30 with 12 spent: 18 leave; others are refused', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'rita' } });
    const promo = await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'PROMO', amount: 30n });
    expect(await say('rita', `/void account:${accountId} entry:${promo.entries[0]!.id} reason:"wrong account"`)).toBe('Only staff can do that.');
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 12 } });
    const voided = await say('ana', `/void account:${accountId} entry:${promo.entries[0]!.id} reason:"wrong account"`, true);
    expect(voided).toContain('Void posted: -18 — balance after 0, reason “wrong account”');
    expect(await say('ana', `/void account:${accountId} entry:${promo.entries[0]!.id} reason:"again"`, true)).toBe('Those credits were already voided.');
  });
});
