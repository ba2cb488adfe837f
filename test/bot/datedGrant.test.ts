import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { errorText } from '../../bot/errorText.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import { addMember } from '../../core/accounts/addMember.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { cancelScheduledWrite } from '../../core/ledger/cancelScheduledWrite.js';
import { landScheduledWrites } from '../../core/ledger/landScheduledWrites.js';
import { purchase } from '../../core/ledger/purchase.js';
import { scheduleGrant } from '../../core/ledger/scheduleGrant.js';
import { dataOf, key as idempotencyKey, refusal, typedClient, useApi } from '../support/api.js';
import { engines } from '../support/databases.js';
import { balanceOf, entryCount, expectError, expectLedgerSound, inDays, key, service, useFreshLedger } from '../support/scenario.js';
import { consoleChat } from './consoleChat.js';

const logger = pino({ level: 'silent' });
const madrid = 'Europe/Madrid';
/** A moment as the chat writes it in Madrid: "3 Jan 2027, 09:00". */
const inMadrid = (moment: Date) => new Intl.DateTimeFormat('en-GB', { timeZone: madrid, dateStyle: 'medium', timeStyle: 'short' }).format(moment);
/** A moment as staff type it in Madrid: "2027-01-03 09:00". */
const typedInMadrid = (moment: Date) => new Intl.DateTimeFormat('sv-SE', { timeZone: madrid, dateStyle: 'short', timeStyle: 'short' }).format(moment);
/** Tomorrow's date in Madrid: "2027-01-03". */
const tomorrowInMadrid = () => typedInMadrid(inDays(1)).slice(0, 10);

/**
 * Staff schedule a grant from chat in their own zone; it lands when due by the cron's catch-up,
 * exactly once, unless cancelled before. Every step is in the audit log with its actor.
 */
describe.each(engines)('dated grants from chat on %s', (engine) => {
  const ctx = useFreshLedger(engine);
  const api = useApi(ctx);
  const say = consoleChat(ctx);

  async function userWith100(): Promise<{ accountId: string; user: string }> {
    const user = `lucia-${randomUUID().slice(0, 8)}`;
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: user } });
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    return { accountId, user };
  }
  const dueNow = (accountId: string) =>
    ctx.db.sql.query(`UPDATE scheduled_writes SET effective_at = clock_timestamp() - interval '1 second' WHERE account_id = $1::uuid`, [accountId]);
  const auditOf = (accountId: string) =>
    ctx.db.sql.query<{ action: string; actor_kind: string; actor_id: string | null; reason: string | null }>(
      'SELECT action, actor_kind, actor_id, reason FROM audit_log WHERE account_id = $1::uuid ORDER BY created_at, action',
      [accountId],
    );

  it('500 for tomorrow 09:00 Madrid: the balance stays 100 and it is listed; due, two catch-ups land +500 once; cancelling then is too late', async () => {
    const { accountId, user } = await userWith100();
    const day = tomorrowInMadrid();
    const reply = await say('ana', `/grant account:${accountId} amount:500 effective:"${day} 09:00" expires:"${day} 23:59" reason:"launch gift"`, true, madrid);

    const host = typedClient(api.baseUrl, api.service);
    const { scheduled: [pending, ...more] } = dataOf(await host.GET('/v1/accounts/{accountId}/scheduled', { params: { path: { accountId } } }));
    expect(more).toEqual([]);
    expect(pending).toMatchObject({ operation: 'grant', status: 'pending', amount: '500', bucket: 'BONUS', reason: 'launch gift', scheduledBy: { kind: 'STAFF', id: 'ana' }, landedEntryId: null });
    const effectiveAt = new Date(pending!.effectiveAt);
    expect([typedInMadrid(effectiveAt), typedInMadrid(new Date(pending!.expiresAt!))]).toEqual([`${day} 09:00`, `${day} 23:59`]);
    expect(reply).toBe(
      `Scheduled: 500 bonus credits for ${user} on ${inMadrid(effectiveAt)} (Europe/Madrid), expiring ${inMadrid(new Date(pending!.expiresAt!))}. ` +
        `They land then; until then /unschedule account:${accountId} schedule:${pending!.id} reason:"…" cancels it.`,
    );
    expect([await balanceOf(ctx, accountId), await entryCount(ctx, accountId)]).toEqual([100n, 1]);
    expect(await say('ana', `/scheduled account:${accountId}`, true, madrid)).toBe(
      [`${user}: 1 scheduled, soonest first`, `  ${inMadrid(effectiveAt).padEnd(20)} +500 bonus credits        by ana  “launch gift”  schedule ${pending!.id}`, 'Times in Europe/Madrid.'].join('\n'),
    );

    await dueNow(accountId);
    const runs = await Promise.all([landScheduledWrites(ctx, { logger }), landScheduledWrites(ctx, { logger })]);
    expect(runs[0]!.landed + runs[1]!.landed).toBe(1);
    expect(await landScheduledWrites(ctx, { logger })).toMatchObject({ landed: 0 });
    expect([await balanceOf(ctx, accountId), await entryCount(ctx, accountId)]).toEqual([600n, 2]);
    expect(await say('ana', `/scheduled account:${accountId}`, true, madrid)).toBe(`${user}: nothing scheduled.`);

    expect(await say('ana', `/unschedule account:${accountId} schedule:${pending!.id} reason:"changed my mind"`, true, madrid)).toBe(errorText.ALREADY_LANDED);
    const late = await typedClient(api.baseUrl, api.admin).POST('/v1/accounts/{accountId}/scheduled/{scheduledId}/cancel', {
      params: { path: { accountId, scheduledId: pending!.id }, header: idempotencyKey() },
      body: { reason: 'too late' },
    });
    expect(refusal(late)).toEqual([409, 'ALREADY_LANDED']);
    expect([await balanceOf(ctx, accountId), await entryCount(ctx, accountId)]).toEqual([600n, 2]);

    expect((await auditOf(accountId)).filter((a) => a.action.startsWith('grant'))).toEqual([
      { action: 'grant.scheduled', actor_kind: 'STAFF', actor_id: 'ana', reason: 'launch gift' },
      // The landing's own write (a staff grant) and the schedule marked landed, both in ana's name.
      { action: 'grant', actor_kind: 'STAFF', actor_id: 'ana', reason: 'launch gift' },
      { action: 'grant.landed', actor_kind: 'STAFF', actor_id: 'ana', reason: null },
    ]);
    await expectLedgerSound(ctx);
  });

  it('200 cancelled the day before never lands; a second cancel says it was already cancelled', async () => {
    const { accountId, user } = await userWith100();
    await say('ana', `/grant account:${accountId} bucket:promo amount:200 effective:"${typedInMadrid(inDays(2))}" reason:"spring promo"`, true, madrid);
    const { scheduled: [pending] } = dataOf(await typedClient(api.baseUrl, api.service).GET('/v1/accounts/{accountId}/scheduled', { params: { path: { accountId } } }));
    const cancelled = await say('ana', `/unschedule account:${accountId} schedule:${pending!.id} reason:"promo called off"`, true, madrid);
    expect(cancelled).toBe(`Cancelled: 200 promo credits for ${user} that were due on ${inMadrid(new Date(pending!.effectiveAt))} (Europe/Madrid). They will not land.`);

    await dueNow(accountId);
    expect(await landScheduledWrites(ctx, { logger })).toMatchObject({ landed: 0, failed: 0 });
    expect([await balanceOf(ctx, accountId), await entryCount(ctx, accountId)]).toEqual([100n, 1]);
    expect(await say('ana', `/unschedule account:${accountId} schedule:${pending!.id} reason:"again"`, true, madrid)).toBe(errorText.ALREADY_CANCELLED);
    expect(await say('ana', `/unschedule account:${accountId} schedule:${randomUUID()} reason:"which?"`, true, madrid)).toBe(errorText.SCHEDULE_NOT_FOUND);
    expect((await auditOf(accountId)).filter((a) => a.action.startsWith('grant'))).toEqual([
      { action: 'grant.scheduled', actor_kind: 'STAFF', actor_id: 'ana', reason: 'spring promo' },
      { action: 'grant.cancelled', actor_kind: 'STAFF', actor_id: 'ana', reason: 'promo called off' },
    ]);
  });

  it('one minute ago, the current minute and a malformed date are refused as over HTTP; a schedule at its very moment is due: it lands and cannot be cancelled', async () => {
    const { accountId } = await userWith100();
    const grantAt = (effective: string) => say('ana', `/grant account:${accountId} amount:5 effective:"${effective}" reason:"boundary"`, true, madrid);
    const past = `${errorText.VALIDATION_FAILED}: effectiveAt must be in the future: a dated grant or purchase cannot land in the past.`;
    expect(await grantAt(typedInMadrid(new Date(Date.now() - 60_000)))).toBe(past);
    expect(await grantAt(typedInMadrid(new Date()))).toBe(past);
    expect(await grantAt('tomorrow')).toBe(`${errorText.VALIDATION_FAILED}: effective: must be a date and time like 2027-01-03 09:00.`);
    expect(await grantAt('2027-02-30 09:00')).toBe(`${errorText.VALIDATION_FAILED}: effective: must be a date and time like 2027-01-03 09:00.`);

    const host = typedClient(api.baseUrl, api.service);
    for (const effectiveAt of [new Date(Date.now() - 60_000), new Date()]) {
      const reply = await host.POST('/v1/accounts/{accountId}/grants', { params: { path: { accountId }, header: idempotencyKey() }, body: { type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 5, effectiveAt: effectiveAt.toISOString() } });
      expect(refusal(reply)).toEqual([400, 'VALIDATION_FAILED']);
    }
    await expectError(scheduleGrant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 5n, effectiveAt: new Date() }), 'VALIDATION_FAILED');

    const { scheduled } = await scheduleGrant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 7n, effectiveAt: new Date(Date.now() + 60_000) });
    await ctx.db.sql.query('UPDATE scheduled_writes SET effective_at = clock_timestamp() WHERE id = $1::uuid', [scheduled.id]);
    const landing = await expectError(cancelScheduledWrite(ctx, { accountId, scheduledId: scheduled.id, actor: service }), 'ALREADY_LANDED');
    expect(landing.message).toBe('Too late to cancel: it was due, and it is landing now');
    expect(await landScheduledWrites(ctx, { logger })).toMatchObject({ landed: 1 });
    expect(await balanceOf(ctx, accountId)).toBe(107n);
    expect([await entryCount(ctx, accountId), (await expectError(cancelScheduledWrite(ctx, { accountId, scheduledId: scheduled.id, actor: service }), 'ALREADY_LANDED')).message]).toEqual([2, expect.stringMatching(/^Too late to cancel: it was due, and it landed as entry [0-9a-f-]{36}$/)]);
  });

  it('a member who is not staff, another organisation’s staff and a viewer are refused, and the schedule stays', async () => {
    const run = randomUUID().slice(0, 8);
    const { accountId } = await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: `orgB-${run}`, name: 'Org B' } });
    await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: `orgA-${run}`, name: 'Org A' } });
    const { scheduled } = await scheduleGrant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 50n, effectiveAt: inDays(3) });

    expect(await say('lucia', `/grant account:${accountId} amount:500 effective:"${tomorrowInMadrid()} 09:00" reason:"me"`, false, madrid)).toBe(errorText.FORBIDDEN);
    expect(await say('lucia', `/unschedule account:${accountId} schedule:${scheduled.id} reason:"no"`, false, madrid)).toBe(errorText.FORBIDDEN);
    expect(await say('lucia', `/scheduled account:${accountId}`)).toBe(errorText.FORBIDDEN);
    const denied = await ctx.db.sql.query<{ action: string; outcome: string }>(`SELECT action, outcome FROM audit_log WHERE actor_id = 'lucia' AND action LIKE 'chat.%' ORDER BY action`);
    expect(denied).toEqual(expect.arrayContaining([{ action: 'chat.grant', outcome: 'denied: not staff' }, { action: 'chat.unschedule', outcome: 'denied: not staff' }]));

    const staffA = (await createApiToken(ctx, { name: `staff-a-${run}`, scopes: ['ADMIN'], organisationExternalId: `orgA-${run}`, actor: { kind: 'STAFF', id: 'setup' } })).secret;
    const otherStaff = typedClient(api.baseUrl, staffA);
    const cancel = await otherStaff.POST('/v1/accounts/{accountId}/scheduled/{scheduledId}/cancel', { params: { path: { accountId, scheduledId: scheduled.id }, header: idempotencyKey() }, body: { reason: 'not mine' } });
    expect(refusal(cancel)).toEqual([404, 'ACCOUNT_NOT_FOUND']);
    expect(refusal(await otherStaff.GET('/v1/accounts/{accountId}/scheduled', { params: { path: { accountId } } }))).toEqual([404, 'ACCOUNT_NOT_FOUND']);

    await openAccount(ctx, { owner: { kind: 'USER', externalId: `viewer-${run}` } });
    await addMember(ctx, { organisationExternalId: `orgB-${run}`, userExternalId: `viewer-${run}`, role: 'VIEWER' });
    await expectError(cancelScheduledWrite(ctx, { accountId, scheduledId: scheduled.id, actor: { kind: 'USER', id: `viewer-${run}` } }), 'ROLE_FORBIDDEN');

    const { scheduled: still } = dataOf(await typedClient(api.baseUrl, api.service).GET('/v1/accounts/{accountId}/scheduled', { params: { path: { accountId } } }));
    expect(still.map((s) => [s.id, s.status])).toEqual([[scheduled.id, 'pending']]);
    // The host product may call it off (no reason needed from it); a retry with the same key is answered the same.
    const host = typedClient(api.baseUrl, api.service);
    const retryKey = idempotencyKey();
    const first = dataOf(await host.POST('/v1/accounts/{accountId}/scheduled/{scheduledId}/cancel', { params: { path: { accountId, scheduledId: scheduled.id }, header: retryKey }, body: {} }));
    const again = dataOf(await host.POST('/v1/accounts/{accountId}/scheduled/{scheduledId}/cancel', { params: { path: { accountId, scheduledId: scheduled.id }, header: retryKey }, body: {} }));
    expect([first.status, first.cancelledBy, again]).toEqual(['cancelled', { kind: 'SERVICE', id: 'host-product' }, first]);
  });
});
