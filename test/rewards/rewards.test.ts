import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setAutoReload } from '../../core/billing/autoReloadSettings.js';
import { paymentWebhook } from '../../core/billing/paymentGateway.js';
import { createLinkCode } from '../../core/identity/createLinkCode.js';
import { claimLinkCode } from '../../core/identity/claimLinkCode.js';
import { resolveChatUser } from '../../core/identity/resolveChatUser.js';
import { unlinkIdentity } from '../../core/identity/unlinkIdentity.js';
import { spend } from '../../core/ledger/spend.js';
import { purchase } from '../../core/ledger/purchase.js';
import { adVerifierKeys } from '../../core/rewards/adVerifierKeys.js';
import { rewardAdView } from '../../core/rewards/rewardAdView.js';
import { fakeAdNetwork } from './fakeAdNetwork.js';
import { type Answer, LoopbackApi } from '../support/loopbackApi.js';
import { balanceOf, entryCount, expectError, key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';

describe('the Discord-link reward (PostgreSQL)', () => {
  const ctx = useFreshLedger('postgres');

  it('linking Discord pays 5 credits once; unlinking and relinking pays nothing more', async () => {
    const accountId = await newUserAccount(ctx, 'dana');
    const { code } = await createLinkCode(ctx, { userExternalId: 'dana', provider: 'DISCORD' });
    expect(code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    const linked = await claimLinkCode(ctx, { provider: 'DISCORD', externalId: '111', code: code.toLowerCase() });
    expect(linked).toMatchObject({ userExternalId: 'dana', rewarded: 5n, balance: 5n });
    expect(await resolveChatUser(ctx, { provider: 'DISCORD', externalId: '111' })).toEqual({ userExternalId: 'dana' });
    await expectError(claimLinkCode(ctx, { provider: 'DISCORD', externalId: '111', code }), 'LINK_CODE_INVALID'); // used once

    await unlinkIdentity(ctx, { provider: 'DISCORD', externalId: '111' });
    expect(await resolveChatUser(ctx, { provider: 'DISCORD', externalId: '111' })).toBeNull();
    const again = await createLinkCode(ctx, { userExternalId: 'dana', provider: 'DISCORD' });
    expect(await claimLinkCode(ctx, { provider: 'DISCORD', externalId: '111', code: again.code })).toMatchObject({ rewarded: 0n });
    // Dana links a second Discord account: still nothing more.
    const third = await createLinkCode(ctx, { userExternalId: 'dana', provider: 'DISCORD' });
    expect(await claimLinkCode(ctx, { provider: 'DISCORD', externalId: '222', code: third.code })).toMatchObject({ rewarded: 0n });
    expect(await resolveChatUser(ctx, { provider: 'DISCORD', externalId: '111' })).toBeNull(); // replaced
    expect(await balanceOf(ctx, accountId)).toBe(5n);
  });

  it('the same Discord account linked to another user pays nothing, and cannot be linked while linked elsewhere', async () => {
    await newUserAccount(ctx, 'eli');
    const eliAccount = await newUserAccount(ctx, 'finn');
    const eli = await createLinkCode(ctx, { userExternalId: 'eli', provider: 'DISCORD' });
    await claimLinkCode(ctx, { provider: 'DISCORD', externalId: '333', code: eli.code });
    const finn = await createLinkCode(ctx, { userExternalId: 'finn', provider: 'DISCORD' });
    await expectError(claimLinkCode(ctx, { provider: 'DISCORD', externalId: '333', code: finn.code }), 'IDENTITY_LINKED_ELSEWHERE');
    await unlinkIdentity(ctx, { provider: 'DISCORD', externalId: '333' });
    expect(await claimLinkCode(ctx, { provider: 'DISCORD', externalId: '333', code: finn.code })).toMatchObject({ userExternalId: 'finn', rewarded: 0n });
    expect(await balanceOf(ctx, eliAccount)).toBe(0n);
  });

  it('two claims racing (two codes of one user, two Discord accounts) pay once', async () => {
    const accountId = await newUserAccount(ctx, 'gus');
    const codes = await Promise.all([1, 2, 3, 4].map(() => createLinkCode(ctx, { userExternalId: 'gus', provider: 'DISCORD' })));
    const results = await Promise.allSettled(codes.map((c, i) => claimLinkCode(ctx, { provider: 'DISCORD', externalId: `44${i}`, code: c.code })));
    const paid = results.filter((r) => r.status === 'fulfilled' && r.value.rewarded > 0n);
    expect(paid).toHaveLength(1);
    expect(await balanceOf(ctx, accountId)).toBe(5n);
  });

  it('refuses an unknown code, an expired code and a code for another provider', async () => {
    await newUserAccount(ctx, 'hal');
    await expectError(claimLinkCode(ctx, { provider: 'DISCORD', externalId: '555', code: 'AAAA-BBBB' }), 'LINK_CODE_INVALID');
    const slack = await createLinkCode(ctx, { userExternalId: 'hal', provider: 'SLACK' });
    await expectError(claimLinkCode(ctx, { provider: 'DISCORD', externalId: '555', code: slack.code }), 'LINK_CODE_INVALID');
    const old = await createLinkCode(ctx, { userExternalId: 'hal', provider: 'DISCORD' });
    await ctx.db.sql.query("UPDATE link_codes SET expires_at = now() - interval '1 second' WHERE user_id = (SELECT id FROM users WHERE external_id = 'hal')");
    await expectError(claimLinkCode(ctx, { provider: 'DISCORD', externalId: '555', code: old.code }), 'LINK_CODE_INVALID');
    await expectError(createLinkCode(ctx, { userExternalId: 'nobody', provider: 'DISCORD' }), 'OWNER_NOT_FOUND');
  });
});

describe('rewarded ads (AdMob-style server-side verification)', () => {
  const ctx = useFreshLedger('pglite');
  const network = fakeAdNetwork();
  const callback = network.callback;
  // The network's published keys, on a loopback server of its own.
  let keysHost: LoopbackApi;

  beforeAll(async () => {
    ctx.rewards = { ad: 2n, adDailyCap: 3 };
    keysHost = await LoopbackApi.start();
    keysHost.route('GET', '/verifier-keys.json', () => [200, network.keysDocument]);
    ctx.adKeys = adVerifierKeys(`${keysHost.url}/verifier-keys.json`);
  });
  afterAll(() => keysHost.close());

  it('a verified view pays the configured reward once per transaction id, up to the daily cap', async () => {
    const accountId = await newUserAccount(ctx, 'ivy');
    const first = callback('ivy');
    const paid = await rewardAdView(ctx, { query: first });
    expect(paid.entries[0]).toMatchObject({ type: 'AD_REWARD', description: 'Ad reward', amount: 2n, balanceAfter: 2n });
    expect((await rewardAdView(ctx, { query: first })).replayed).toBe(true); // the network retried
    await rewardAdView(ctx, { query: callback('ivy', { reward_amount: '1000' }) }); // the amount comes from configuration
    await rewardAdView(ctx, { query: callback('ivy') });
    await expectError(rewardAdView(ctx, { query: callback('ivy') }), 'AD_REWARD_DAILY_CAP');
    expect(await balanceOf(ctx, accountId)).toBe(6n);
    expect(keysHost.requests).toEqual(['GET /verifier-keys.json']); // the keys were fetched once
  });

  it('refuses a tampered query, an unknown key, a missing signature and an unknown user, paying nothing', async () => {
    const accountId = await newUserAccount(ctx, 'jo');
    const genuine = callback('jo');
    await expectError(rewardAdView(ctx, { query: genuine.replace('user_id=jo', 'user_id=ivy') }), 'AD_CALLBACK_INVALID');
    await expectError(rewardAdView(ctx, { query: genuine.replace('key_id=3335741209', 'key_id=1') }), 'AD_CALLBACK_INVALID');
    await expectError(rewardAdView(ctx, { query: genuine.split('&signature=')[0]! }), 'AD_CALLBACK_INVALID');
    await expectError(rewardAdView(ctx, { query: genuine.replace(/signature=[^&]+/, 'signature=AAAA') }), 'AD_CALLBACK_INVALID');
    await expectError(rewardAdView(ctx, { query: callback('nobody') }), 'ACCOUNT_NOT_FOUND');
    expect(await entryCount(ctx, accountId)).toBe(0);
  });

  it('one genuine callback with parameters after its signature pays once, never to another user', async () => {
    const kim = await newUserAccount(ctx, 'kim');
    const lev = await newUserAccount(ctx, 'lev');
    const genuine = callback('kim');
    const [signedPart, signature] = genuine.split('&key_id=')[0]!.split('&signature=') as [string, string];
    for (const extended of [
      `${genuine}&transaction_id=tx-extra-1`, // a second view
      `${genuine}&user_id=lev`, // paid to someone else
      `${genuine}&transaction_id=tx-extra-2&user_id=lev`,
      `${signedPart}&signature=${signature}&user_id=lev&key_id=3335741209`, // between the two
      `${signedPart}&key_id=3335741209&signature=${signature}`, // their order swapped
      `${genuine}&`,
    ]) {
      await expectError(rewardAdView(ctx, { query: extended }), 'AD_CALLBACK_INVALID');
    }
    expect((await rewardAdView(ctx, { query: genuine })).entries[0]).toMatchObject({ type: 'AD_REWARD', amount: 2n });
    expect(await balanceOf(ctx, kim)).toBe(2n);
    expect(await entryCount(ctx, lev)).toBe(0);
  });

  it('refuses a name twice, even inside what the network signed, however it is spelled', async () => {
    const accountId = await newUserAccount(ctx, 'max');
    for (const signedPart of [
      'transaction_id=tx-dup-1&user_id=max&user_id=lev',
      'transaction_id=tx-dup-2&user_id=max&user%5Fid=lev', // user%5Fid is user_id
      'transaction_id=tx-dup-3&transaction_id=tx-dup-4&user_id=max',
      'key_id=1&transaction_id=tx-dup-5&user_id=max', // key_id comes after the signature
    ]) {
      await expectError(rewardAdView(ctx, { query: network.signed(signedPart) }), 'AD_CALLBACK_INVALID');
    }
    // Percent-encoding inside a signed value is the network's: decoded once, from the signed bytes.
    expect((await rewardAdView(ctx, { query: network.signed('transaction_id=tx-dup-6&user_id=m%61x') })).balance).toBe(2n);
    expect(await balanceOf(ctx, accountId)).toBe(2n);
  });
});

describe('auto-reload', () => {
  const ctx = useFreshLedger('postgres');
  // The host product's billing, on a loopback server of its own.
  let billing: LoopbackApi;
  beforeAll(async () => {
    billing = await LoopbackApi.start();
    ctx.payments = paymentWebhook({ url: `${billing.url}/charge`, secret: 'a-long-shared-secret', timeoutMs: 300 });
  });
  afterEach(() => billing.reset());
  afterAll(() => billing.close());

  it('a submission too costly for the bare balance charges a +50 top-up, then the submission: two entries', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 30n });
    await setAutoReload(ctx, { accountId, enabled: true });
    const charged: { credits: string; accountId: string; signed: boolean }[] = [];
    billing.route('POST', '/charge', async (request) => {
      const { credits, accountId: charging } = (await request.json()) as { credits: string; accountId: string };
      charged.push({ credits, accountId: charging, signed: /^t=\d+,v1=[0-9a-f]{64}$/.test(request.headers.get('creditkeeper-signature') ?? '') });
      return [200, { chargeId: 'ch_1' }];
    });
    const result = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'submission', clipSeconds: [4] } }); // 44
    expect(charged).toEqual([{ credits: '50', accountId, signed: true }]);
    expect(result.entries[0]).toMatchObject({ type: 'DEPOSIT', amount: -44n, balanceAfter: 36n });
    const rows = await ctx.db.prisma.entry.findMany({ where: { accountId }, orderBy: { seq: 'asc' } });
    expect(rows.map((e) => [e.type, e.amount, e.balanceAfter])).toEqual([
      ['PURCHASE', 30n, 30n],
      ['AUTO_RELOAD', 50n, 80n],
      ['DEPOSIT', -44n, 36n],
    ]);
  });

  it('a declined or timed-out charge denies the spend and writes nothing; the retry reuses the charge key', async () => {
    const accountId = await newUserAccount(ctx);
    await setAutoReload(ctx, { accountId, enabled: true, amount: 20n });
    const spendKey = key();
    const keys: string[] = [];
    /** The processor's next answer, after `delayMs`. */
    let next: { answer: Answer; delayMs?: number } = { answer: [402, { error: 'card_declined' }] };
    billing.route('POST', '/charge', async (request) => {
      const { answer, delayMs = 0 } = next;
      keys.push(String(request.headers.get('idempotency-key')));
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return answer;
    });
    await expectError(spend(ctx, { accountId, idempotencyKey: spendKey, actor: service, charge: { action: 'image', quantity: 5 } }), 'PAYMENT_FAILED');
    // A processor that charges but answers too late (a real slow server: the timeout is Creditkeeper's own).
    next = { answer: [200, { chargeId: 'ch_late' }], delayMs: 1_000 };
    const timedOut = await expectError(spend(ctx, { accountId, idempotencyKey: spendKey, actor: service, charge: { action: 'image', quantity: 5 } }), 'PAYMENT_FAILED');
    expect(timedOut.details).toMatchObject({ reason: 'timeout' });
    expect(await entryCount(ctx, accountId)).toBe(0);
    next = { answer: [200, { chargeId: 'ch_late' }] }; // the processor answers the same key with the same charge
    await spend(ctx, { accountId, idempotencyKey: spendKey, actor: service, charge: { action: 'image', quantity: 5 } });
    await spend(ctx, { accountId, idempotencyKey: spendKey, actor: service, charge: { action: 'image', quantity: 5 } }); // a replay: no charge
    expect(new Set(keys)).toEqual(new Set([`auto-reload#${spendKey}`]));
    expect(keys).toHaveLength(3);
    expect(await balanceOf(ctx, accountId)).toBe(5n);
  });

  it('does not fire when off, when the top-up would not cover the shortfall, or past the monthly limit', async () => {
    const accountId = await newUserAccount(ctx);
    await expectError(spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 1 } }), 'INSUFFICIENT_CREDITS');
    await setAutoReload(ctx, { accountId, enabled: true, amount: 10n, monthlyLimit: 15n });
    await expectError(spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 11 } }), 'INSUFFICIENT_CREDITS');
    billing.route('POST', '/charge', () => [200, { chargeId: 'ch_2' }]);
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 10 } });
    await expectError(spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 1 } }), 'INSUFFICIENT_CREDITS'); // 10 + 10 > 15
    await setAutoReload(ctx, { accountId, enabled: false });
    expect(await entryCount(ctx, accountId)).toBe(2);
    expect(billing.requests).toEqual(['POST /charge']); // one top-up charged, none past the limit
  });
});
