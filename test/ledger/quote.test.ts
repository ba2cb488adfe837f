import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setAutoReload } from '../../core/billing/autoReloadSettings.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { quoteUsage } from '../../core/ledger/quoteUsage.js';
import { spend } from '../../core/ledger/spend.js';
import { LoopbackHost } from '../billing/loopbackHost.js';
import { client, useApi } from '../support/api.js';
import { engines } from '../support/databases.js';
import { balanceOf, entryCount, expectError, expectLedgerSound, inDays, key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';

/**
 * "Can this user afford it?" without spending: a quote is the spend staged and thrown away, so it
 * says what the spend would do, to the bucket, and writes nothing.
 */
describe.each(engines)('quotes on %s', (engine) => {
  const ctx = useFreshLedger(engine);
  const api = useApi(ctx);
  const host = new LoopbackHost();
  beforeAll(async () => {
    await host.start();
    ctx.payments = host.gateway();
  });
  afterAll(() => host.close());

  /** maria: 12 weekly credits expiring in 3 days and 50 purchased. */
  async function maria(): Promise<string> {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 50n });
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'WEEKLY_GRANT', bucket: 'WEEKLY', amount: 12n, expiresAt: inDays(3) });
    return accountId;
  }

  it('two images cost 6, from the weekly credits first: 62 → 56, and nothing is written', async () => {
    const accountId = await maria();
    const entries = await entryCount(ctx, accountId);
    const quote = await quoteUsage(ctx, { accountId, charge: { action: 'image', quantity: 2 } });
    expect(quote).toMatchObject({ affordable: true, balanceBefore: 62n, balanceAfter: 56n, autoReload: null, refusal: null });
    expect(quote.cost).toMatchObject({ category: 'Image generation', amount: 6n, deposit: 0n, charged: 6n });
    expect(quote.buckets.map((b) => [b.kind, b.amount])).toEqual([['WEEKLY', -6n]]);
    expect([await entryCount(ctx, accountId), await balanceOf(ctx, accountId)]).toEqual([entries, 62n]);

    // The spend does what the quote said.
    const spent = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 2 } });
    expect(spent.balance).toBe(56n);
    expect(spent.entries[0]!.movements).toEqual(quote.buckets.map((b) => ({ bucketId: b.bucketId, amount: b.amount })));
  });

  it('exactly the balance is affordable, one over is the refusal the spend would get', async () => {
    const accountId = await maria();
    expect(await quoteUsage(ctx, { accountId, charge: { action: 'chat', quantity: 62 } })).toMatchObject({ affordable: true, balanceAfter: 0n });
    const over = await quoteUsage(ctx, { accountId, charge: { action: 'chat', quantity: 63 } });
    expect(over).toMatchObject({ affordable: false, balanceAfter: 62n, buckets: [], refusal: { code: 'INSUFFICIENT_CREDITS', details: { required: '63', available: '62' } } });
    await expectError(spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 63 } }), 'INSUFFICIENT_CREDITS');
  });

  it('a submission costs 40 and a deposit of its clips, each clamped to 4–12 s: forgetting the durations costs more', async () => {
    const accountId = await maria();
    const six = await quoteUsage(ctx, { accountId, charge: { action: 'submission', clipSeconds: [8, 8, 8, 8, 8, 8] } });
    expect(six.cost).toMatchObject({ amount: 88n, deposit: 48n, charged: 88n });
    expect(six.refusal?.code).toBe('INSUFFICIENT_CREDITS'); // 88 > 62
    const clamped = await quoteUsage(ctx, { accountId, charge: { action: 'submission', clipSeconds: [2, 30] } });
    expect(clamped.cost).toMatchObject({ amount: 56n, deposit: 16n }); // 40 + 4 + 12
    expect(clamped).toMatchObject({ affordable: true, balanceAfter: 6n });
  });

  it('15% off 20 charges 17; an unknown action is bad input, not a refusal', async () => {
    const accountId = await maria();
    const quote = await quoteUsage(ctx, { accountId, discountPercent: 15, charge: { amount: 20n, category: 'Runtime usage', description: 'Over-quota runtime' } });
    expect(quote.cost).toMatchObject({ amount: 20n, charged: 17n, discountPercent: 15 });
    expect(quote.balanceAfter).toBe(45n);
    await expectError(quoteUsage(ctx, { accountId, charge: { action: 'teleport', quantity: 1 } }), 'UNKNOWN_ACTION');
  });

  it('with auto-reload of 50 (limit 100) a spend of 80 on 62 would first top up 50: 62 + 50 − 80 = 32; no card is charged', async () => {
    const accountId = await maria();
    await setAutoReload(ctx, { accountId, enabled: true, amount: 50n, monthlyLimit: 100n });
    const quote = await quoteUsage(ctx, { accountId, charge: { action: 'chat', quantity: 80 } });
    expect(quote).toMatchObject({ affordable: true, autoReload: { credits: 50n }, balanceAfter: 32n, refusal: null });
    // By bucket: the top-up's new one keeps 50 − 18; the weekly and the older purchase are emptied.
    expect(quote.buckets.map((b) => [b.kind, b.amount])).toEqual([['PURCHASED', 32n], ['WEEKLY', -12n], ['PURCHASED', -50n]]);
    expect(host.chargesFor(accountId)).toBe(0);
    // One top-up cannot cover a shortfall of 51: refused, as the spend would be.
    expect((await quoteUsage(ctx, { accountId, charge: { action: 'chat', quantity: 113 } })).refusal?.code).toBe('INSUFFICIENT_CREDITS');
    expect(await balanceOf(ctx, accountId)).toBe(62n);
  });

  it('expired credits are not quoted as spendable', async () => {
    const accountId = await newUserAccount(ctx);
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'PROMO', amount: 10n, expiresAt: new Date(Date.now() + 300) });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await quoteUsage(ctx, { accountId, charge: { action: 'chat', quantity: 1 } })).toMatchObject({ balanceBefore: 0n, affordable: false });
  });

  it('for any charges, the quote is what the spend then does', async () => {
    const accountId = await maria();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('chat', 'image', 'reroll'), fc.integer({ min: 1, max: 8 }), async (action, quantity) => {
        const quote = await quoteUsage(ctx, { accountId, charge: { action, quantity } });
        const spent = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action, quantity } }).catch((e: unknown) => e);
        if (quote.affordable) expect((spent as { balance: bigint }).balance).toBe(quote.balanceAfter);
        else expect((spent as { code?: string }).code).toBe(quote.refusal!.code);
      }),
      { numRuns: 25 },
    );
    await expectLedgerSound(ctx);
  });

  it('over HTTP: POST …/quote takes the body of …/usage, needs no key, and any scope may ask', async () => {
    const accountId = await maria();
    const reply = await client(api.baseUrl, api.reader)('POST', `/v1/accounts/${accountId}/quote`, { body: { charge: { action: 'image', quantity: 2 } } });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body).toMatchObject({ affordable: true, balanceBefore: '62', balanceAfter: '56', cost: { charged: '6' } });
    expect(await entryCount(ctx, accountId)).toBe(2);
  });
});
