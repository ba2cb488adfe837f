import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoReloadChargeKey } from '../../core/billing/autoReloadCharges.js';
import { getAutoReload, setAutoReload } from '../../core/billing/autoReloadSettings.js';
import { settleUnknownCharges } from '../../core/billing/settleUnknownCharges.js';
import type { CoreContext } from '../../core/context.js';
import { spend } from '../../core/ledger/spend.js';
import { explainBalance } from '../../core/reports/why.js';
import { client, useApi } from '../support/api.js';
import { anotherProcess } from '../support/databases.js';
import { balanceOf, expectError, newUserAccount, service, useFreshLedger } from '../support/scenario.js';
import { LoopbackHost } from './loopbackHost.js';

const logger = pino({ level: 'silent' });

/**
 * Issue 14 item 6: an auto-reload charge whose answer was lost. The host charges the card and
 * then never answers, so the spend times out (300 ms) with the charge's outcome unknown; it is
 * settled by the spend's retry, the settler asking the host again under the same key, or the
 * host's own confirmation, and credited exactly once.
 */
describe('auto-reload charges of unknown outcome (PostgreSQL)', () => {
  const ctx = useFreshLedger('postgres', 8);
  const api = useApi(ctx);
  const host = new LoopbackHost();
  let impatient: CoreContext;
  let other: CoreContext;
  beforeAll(async () => {
    await host.start();
    ctx.payments = host.gateway(5_000);
    impatient = { ...ctx, payments: host.gateway(300) };
    other = { ...(await anotherProcess(ctx, 4)), payments: host.gateway(5_000) };
  });
  afterAll(async () => {
    host.close();
    await other.db.close();
  });

  const chat = (accountId: string, label: string) => ({
    accountId,
    idempotencyKey: `${accountId}:${label}`,
    actor: service,
    charge: { amount: 40n, category: 'Chat', description: 'A long chat' },
  });
  const reservation = (accountId: string, label: string) =>
    ctx.db.prisma.autoReloadReservation.findUniqueOrThrow({ where: { accountId_idempotencyKey: { accountId, idempotencyKey: autoReloadChargeKey(`${accountId}:${label}`) } } });
  const topUps = (accountId: string) =>
    ctx.db.prisma.entry.findMany({ where: { accountId, type: 'AUTO_RELOAD' } }).then((rows) => rows.map((e) => [e.amount, e.sourceId]));
  const unsettledOnWhy = async (accountId: string) =>
    (await explainBalance(ctx, { accountId })).findings.find((f) => f.kind === 'AUTO_RELOAD_UNSETTLED') ?? null;
  /** The host charges on the first request under a key and never answers it; later ones get that charge. */
  const chargesThenHangs = () => (host.answer = (_key, earlier) => (earlier === 0 ? 'charge and hang' : 'charge'));

  /** A spend of 40 on an empty account with top-ups of 50, whose charge is made but never answered. */
  async function spendWithLostAnswer(monthlyLimit = 100n): Promise<{ accountId: string; chargeKey: string }> {
    const accountId = await newUserAccount(ctx);
    await setAutoReload(ctx, { accountId, enabled: true, amount: 50n, monthlyLimit });
    const failed = await expectError(spend(impatient, chat(accountId, 'lost')), 'PAYMENT_FAILED');
    const chargeKey = autoReloadChargeKey(`${accountId}:lost`);
    expect(failed.details).toMatchObject({ reason: 'timeout', chargeKey, chargeStatus: 'UNKNOWN' });
    return { accountId, chargeKey };
  }

  it('charged then hung: UNKNOWN and still reserved (50 of 100), listed by /why; the settler asks again under the same key and credits the one charge once', async () => {
    chargesThenHangs();
    const { accountId, chargeKey } = await spendWithLostAnswer();
    expect(host.charges.get(chargeKey)).toBe(`ch_${host.charges.size}`); // the card was charged
    expect(await reservation(accountId, 'lost')).toMatchObject({ status: 'UNKNOWN', attempts: 1, credits: 50n, lastError: expect.stringMatching(/did not answer within 300 ms/) });
    expect(await topUps(accountId)).toEqual([]);
    expect(await balanceOf(ctx, accountId)).toBe(0n);
    expect((await getAutoReload(ctx, accountId))!.usedThisMonth).toBe(50n);
    expect(await unsettledOnWhy(accountId)).toMatchObject({ count: 1, amount: 50n, charges: [{ chargeKey, status: 'UNKNOWN', attempts: 1 }] });

    expect(await settleUnknownCharges(ctx, { logger })).toMatchObject({ ran: true, confirmed: 1, declined: 0, stillUnknown: 0 });
    const chargeId = host.charges.get(chargeKey)!;
    expect(host.requestsFor(chargeKey)).toBe(2);
    expect(await topUps(accountId)).toEqual([[50n, chargeId]]);
    expect(await balanceOf(ctx, accountId)).toBe(50n);
    expect(await reservation(accountId, 'lost')).toMatchObject({ status: 'CONFIRMED', attempts: 2, chargeId });
    expect(await unsettledOnWhy(accountId)).toBeNull();

    // Settled: a second run asks nothing, and the spend's retry spends from the 50 without a charge.
    expect(await settleUnknownCharges(ctx, { logger })).toMatchObject({ confirmed: 0 });
    expect((await spend(ctx, chat(accountId, 'lost'))).balance).toBe(10n);
    expect(host.requestsFor(chargeKey)).toBe(2);
    expect(await topUps(accountId)).toEqual([[50n, chargeId]]);
  });

  it("the spend's own retry settles it: the same key is asked again, the first charge comes back and lands once (2 attempts)", async () => {
    chargesThenHangs();
    const { accountId, chargeKey } = await spendWithLostAnswer();
    expect((await spend(ctx, chat(accountId, 'lost'))).balance).toBe(10n);
    expect(await reservation(accountId, 'lost')).toMatchObject({ status: 'CONFIRMED', attempts: 2, chargeId: host.charges.get(chargeKey) });
    expect(await topUps(accountId)).toEqual([[50n, host.charges.get(chargeKey)]]);
  });

  it('the host confirms it over the API three times at once: credited once (balance 50); refusing it afterwards, or naming another charge, is 409 CHARGE_ALREADY_SETTLED', async () => {
    chargesThenHangs();
    const { accountId, chargeKey } = await spendWithLostAnswer();
    const chargeId = host.charges.get(chargeKey)!;
    const hostApi = client(api.baseUrl, api.service);
    const confirmation = `/v1/accounts/${accountId}/auto-reload/charges/${encodeURIComponent(chargeKey)}/confirmation`;
    const replies = await Promise.all(
      [1, 2, 3].map((n) => hostApi('POST', confirmation, { key: `confirm-${accountId}-${n}`, body: { outcome: 'charged', chargeId } })),
    );
    expect(replies.map((r) => [r.status, r.body.status, r.body.credits])).toEqual([
      [200, 'CONFIRMED', '50'],
      [200, 'CONFIRMED', '50'],
      [200, 'CONFIRMED', '50'],
    ]);
    expect(await topUps(accountId)).toEqual([[50n, chargeId]]);
    expect(await balanceOf(ctx, accountId)).toBe(50n);

    const refused = await hostApi('POST', confirmation, { key: `decline-${accountId}`, body: { outcome: 'declined' } });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'CHARGE_ALREADY_SETTLED']);
    const another = await hostApi('POST', confirmation, { key: `other-${accountId}`, body: { outcome: 'charged', chargeId: 'ch_someone_else' } });
    expect([another.status, another.body.error.code]).toEqual([409, 'CHARGE_ALREADY_SETTLED']);
    const unknownKey = await hostApi('POST', `/v1/accounts/${accountId}/auto-reload/charges/${encodeURIComponent(`${chargeKey}-x`)}/confirmation`, {
      key: `missing-${accountId}`,
      body: { outcome: 'declined' },
    });
    expect([unknownKey.status, unknownKey.body.error.code]).toEqual([404, 'CHARGE_NOT_FOUND']);

    // Nothing left for the settler, and the host was asked once only (by the spend).
    expect(await settleUnknownCharges(ctx, { logger })).toMatchObject({ confirmed: 0 });
    expect(host.requestsFor(chargeKey)).toBe(1);
    expect(await balanceOf(ctx, accountId)).toBe(50n);
  });

  it('declined by the host over the API: the 50 of a limit of 50 come back, so the next spend reloads; the settler never asks about it', async () => {
    // The host neither charged nor answered.
    host.answer = (key) => (key.endsWith(':lost') ? 'hang' : 'charge');
    const { accountId, chargeKey } = await spendWithLostAnswer(50n);
    await expectError(spend(ctx, chat(accountId, 'next')), 'INSUFFICIENT_CREDITS'); // 50 reserved + 50 > 50
    const reply = await client(api.baseUrl, api.service)('POST', `/v1/accounts/${accountId}/auto-reload/charges/${encodeURIComponent(chargeKey)}/confirmation`, {
      key: `decline-${accountId}`,
      body: { outcome: 'declined', reason: 'Card expired' },
    });
    expect([reply.status, reply.body.status, reply.body.lastError]).toEqual([200, 'DECLINED', 'Card expired']);
    expect((await getAutoReload(ctx, accountId))!.usedThisMonth).toBe(0n);
    expect(await unsettledOnWhy(accountId)).toBeNull();
    expect(await settleUnknownCharges(ctx, { logger })).toMatchObject({ confirmed: 0, declined: 0 });
    expect(host.requestsFor(chargeKey)).toBe(1);

    expect((await spend(ctx, chat(accountId, 'next'))).balance).toBe(10n);
    expect(await topUps(accountId)).toEqual([[50n, host.charges.get(autoReloadChargeKey(`${accountId}:next`))]]);
  });

  it('two settlers at once from two processes: each of 3 unknown charges is asked about once more and credited once', async () => {
    chargesThenHangs();
    const lost = [await spendWithLostAnswer(), await spendWithLostAnswer(), await spendWithLostAnswer()];
    const runs = await Promise.all([settleUnknownCharges(ctx, { logger }), settleUnknownCharges(other, { logger })]);
    expect(runs[0]!.confirmed + runs[1]!.confirmed).toBe(3);
    for (const { accountId, chargeKey } of lost) {
      expect(host.requestsFor(chargeKey)).toBe(2);
      expect(await topUps(accountId)).toEqual([[50n, host.charges.get(chargeKey)]]);
      expect(await balanceOf(ctx, accountId)).toBe(50n);
    }
  });
});
