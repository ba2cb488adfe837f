import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { landScheduledWrites } from '../../core/ledger/landScheduledWrites.js';
import { scheduleGrant } from '../../core/ledger/scheduleGrant.js';
import { schedulePurchase } from '../../core/ledger/schedulePurchase.js';
import { client, useApi } from '../support/api.js';
import { engines } from '../support/databases.js';
import { balanceOf, entryCount, expectError, expectLedgerSound, inDays, key, newUserAccount, service, staff, useFreshLedger } from '../support/scenario.js';

const logger = pino({ level: 'silent' });

/** Makes every schedule of the account due now, as if its date had come. */
async function dueNow(ctx: ReturnType<typeof useFreshLedger>, accountId: string): Promise<void> {
  await ctx.db.sql.query(`UPDATE scheduled_writes SET effective_at = clock_timestamp() - interval '1 second' WHERE account_id = $1::uuid`, [accountId]);
}

/**
 * Grants and purchases dated in the future land when due, exactly once, by the cron's
 * catch-up; a date in the past is refused.
 */
describe.each(engines)('dated grants and purchases on %s', (engine) => {
  const ctx = useFreshLedger(engine);
  const api = useApi(ctx);

  it('a bonus of 25 dated next week is nothing today, and 25 once it is due — however many runs', async () => {
    const accountId = await newUserAccount(ctx);
    const idempotencyKey = key('promo');
    const { scheduled } = await scheduleGrant(ctx, { accountId, idempotencyKey, actor: service, type: 'SIGNUP_BONUS', bucket: 'PROMO', amount: 25n, effectiveAt: inDays(7), expiresAt: inDays(37) });
    expect(scheduled).toMatchObject({ operation: 'grant', landedEntryId: null });
    expect(await landScheduledWrites(ctx, { logger })).toMatchObject({ landed: 0 });
    expect([await balanceOf(ctx, accountId), await entryCount(ctx, accountId)]).toEqual([0n, 0]);

    await dueNow(ctx, accountId);
    const [first, second] = await Promise.all([landScheduledWrites(ctx, { logger }), landScheduledWrites(ctx, { logger })]);
    expect(first!.landed + second!.landed).toBe(1);
    expect(await landScheduledWrites(ctx, { logger })).toMatchObject({ landed: 0 });
    expect([await balanceOf(ctx, accountId), await entryCount(ctx, accountId)]).toEqual([25n, 1]);
    const [row] = await ctx.db.sql.query<{ landed_entry_id: string; idempotency_key: string }>(
      `SELECT s.landed_entry_id, e.idempotency_key FROM scheduled_writes s JOIN entries e ON e.id = s.landed_entry_id WHERE s.account_id = $1::uuid`,
      [accountId],
    );
    expect(row!.idempotency_key).toBe(idempotencyKey);
    await expectLedgerSound(ctx);
  });

  it('a run that died after writing but before marking lands nothing twice: the next run replays', async () => {
    const accountId = await newUserAccount(ctx);
    await schedulePurchase(ctx, { accountId, idempotencyKey: key('prepaid'), actor: service, amount: 100n, effectiveAt: inDays(1) });
    await dueNow(ctx, accountId);
    await landScheduledWrites(ctx, { logger });
    await ctx.db.sql.query(`UPDATE scheduled_writes SET landed_at = NULL, landed_entry_id = NULL WHERE account_id = $1::uuid`, [accountId]);
    await landScheduledWrites(ctx, { logger });
    expect([await balanceOf(ctx, accountId), await entryCount(ctx, accountId)]).toEqual([100n, 1]);
  });

  it('the past is refused; expiry must come after the date; a retry gets the same schedule; another request under the key conflicts', async () => {
    const accountId = await newUserAccount(ctx);
    const grantOf = (amount: bigint, effectiveAt: Date, idempotencyKey = key()) =>
      scheduleGrant(ctx, { accountId, idempotencyKey, actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount, effectiveAt });
    await expectError(grantOf(5n, new Date(Date.now() - 60_000)), 'VALIDATION_FAILED');
    await expectError(scheduleGrant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'PROMO', amount: 5n, effectiveAt: inDays(2), expiresAt: inDays(1) }), 'VALIDATION_FAILED');
    const effectiveAt = inDays(3);
    const first = await grantOf(5n, effectiveAt, 'dated-1');
    const again = await grantOf(5n, effectiveAt, 'dated-1');
    expect([again.replayed, again.scheduled.id]).toEqual([true, first.scheduled.id]);
    await expectError(grantOf(6n, effectiveAt, 'dated-1'), 'IDEMPOTENCY_CONFLICT');
    await expectError(scheduleGrant(ctx, { accountId, idempotencyKey: key(), actor: staff, type: 'MANUAL_CREDIT', bucket: 'BONUS', amount: 5n, effectiveAt }), 'REASON_REQUIRED');
  });

  it('one whose expiry passed before it was due fails once, visibly, and is not retried', async () => {
    const accountId = await newUserAccount(ctx);
    await scheduleGrant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'PROMO', amount: 5n, effectiveAt: inDays(1), expiresAt: inDays(2) });
    await ctx.db.sql.query(`UPDATE scheduled_writes SET effective_at = now() - interval '3 days', request = jsonb_set(request, '{expiresAt}', to_jsonb((now() - interval '1 day')::text)) WHERE account_id = $1::uuid`, [accountId]);
    expect(await landScheduledWrites(ctx, { logger })).toMatchObject({ landed: 0, failed: 1 });
    expect(await landScheduledWrites(ctx, { logger })).toMatchObject({ landed: 0, failed: 0 });
    const [row] = await ctx.db.sql.query<{ failure: string }>(`SELECT failure FROM scheduled_writes WHERE account_id = $1::uuid`, [accountId]);
    expect(row!.failure).toMatch(/^VALIDATION_FAILED/);
    expect(await balanceOf(ctx, accountId)).toBe(0n);
  });

  it('over HTTP: a grant with effectiveAt answers its schedule; without, it lands now', async () => {
    const accountId = await newUserAccount(ctx);
    const host = client(api.baseUrl, api.service);
    const dated = await host('POST', `/v1/accounts/${accountId}/grants`, { key: key(), body: { type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 10, effectiveAt: inDays(5).toISOString() } });
    expect(dated.status, dated.text).toBe(201);
    expect(dated.body.scheduled).toMatchObject({ operation: 'grant', bucket: 'BONUS', landedEntryId: null });
    // A purchase always lands in PURCHASED: its schedule says so, as a grant's names its bucket.
    const datedPurchase = await host('POST', `/v1/accounts/${accountId}/purchases`, { key: key(), body: { amount: 30, effectiveAt: inDays(3).toISOString() } });
    expect([datedPurchase.status, datedPurchase.body.scheduled]).toMatchObject([201, { operation: 'purchase', bucket: 'PURCHASED', amount: '30' }]);
    const now = await host('POST', `/v1/accounts/${accountId}/purchases`, { key: key(), body: { amount: 10 } });
    expect(now.body.balance).toBe('10');
    const past = await host('POST', `/v1/accounts/${accountId}/purchases`, { key: key(), body: { amount: 10, effectiveAt: '2020-01-01T00:00:00Z' } });
    expect([past.status, past.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
  });
});
