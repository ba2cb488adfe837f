import { expectWhyOfMonthOfUse, seedMonthOfUse } from './chatTransportSupport.js';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { openAccount } from '../../core/accounts/openAccount.js';
import { grant } from '../../core/ledger/grant.js';
import type { Caller } from '../../bot/command.js';
import type { WhyExplanation } from '../../core/reports/why.js';
import { dispatch } from '../../bot/dispatch.js';
import { renderText } from '../../bot/text/renderText.js';
import { consoleChat } from './consoleChat.js';
import { entryCount, key, service, useFreshLedger } from '../support/scenario.js';

const logger = pino({ level: 'silent' });

/** The chat commands through the console transport: what a person at the terminal reads. */
describe('chat commands on the console', () => {
  const ctx = useFreshLedger('pglite');
  const say = consoleChat(ctx);

  it('after a monthly grant of 325 and some spends, /why shows the grant, the spends by category, and a sum that matches /credits', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'maria', displayName: 'Maria' } });
    await seedMonthOfUse(ctx, accountId);

    const credits = await say('maria', '/credits');
    expect(credits).toContain('Maria: 231 credits available');
    expect(credits).toMatch(/plan\s+181/);
    expect(credits).toMatch(/purchased\s+50\s+never expires/);
    expect(credits).toContain('In flight: 1 submission, 88 credits deducted at submit');

    const why = await say('maria', '/why');
    expectWhyOfMonthOfUse(why, { balanceWas: 0, now: 231 });

    const activity = await say('maria', '/activity filter:used');
    expect(activity).toContain('showing 1–6 of 6');
    expect(await say('maria', '/usage')).toMatch(/total 144 credits/);
    expect(await say('maria', '/why expected:375')).toContain('Your balance was 375 on');
  });

  it('staff commands: refused (and audited) for others; done once per interaction for staff', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'sam' } });
    const refused = await say('sam', `/adjust account:${accountId} amount:500 reason:"I deserve it"`);
    expect(refused).toBe('Only staff can do that.');
    const audit = await ctx.db.prisma.auditEntry.findFirst({ where: { action: 'chat.adjust', actorId: 'sam' } });
    expect(audit).toMatchObject({ outcome: 'denied: not staff' });
    expect(await entryCount(ctx, accountId)).toBe(0);

    expect(await say('ana', '/lookup search:sam', true)).toContain(`account ${accountId}`);
    const caller: Caller = { transport: 'console', chatUserId: 'ana', userExternalId: 'ana', isStaff: true, interactionId: 'same-interaction' };
    const options = { account: accountId, amount: '25', reason: 'Delivery miss' };
    const first = renderText(await dispatch(ctx, logger, caller, 'adjust', options));
    const twice = renderText(await dispatch(ctx, logger, caller, 'adjust', options));
    expect(first).toContain('Adjustment posted: +25 — balance after 25, reason “Delivery miss”');
    expect(twice).toContain('Adjustment posted (already, earlier): +25');
    expect(await entryCount(ctx, accountId)).toBe(1);
    expect(await ctx.db.prisma.auditEntry.count({ where: { action: 'adjust', actorId: 'ana' } })).toBe(1);
  });

  it('bad input gets one short sentence, never a stack trace', async () => {
    await openAccount(ctx, { owner: { kind: 'USER', externalId: 'lee' } });
    expect(await say('lee', '/teleport')).toBe('There is no /teleport. Try /help.');
    expect(await say('lee', '/activity filter:spent')).toMatch(/^That did not look right: filter:/);
    expect(await say('lee', '/why expected:lots')).toContain('expected must be a whole number of credits');
    expect(await say('lee', '/credits account:someone-elses-org')).toContain('I could not find that account');
    expect(await say('nobody', '/credits')).toContain('Have you linked your account?');
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'lee' } });
    expect(await say('ana', `/adjust account:${accountId} amount:-5 reason:"x"`, true)).toBe('There are not enough credits for that.');
    expect(await say('ana', `/adjust account:${accountId} amount:2.5 reason:"x"`, true)).toMatch(/^That did not look right/);
    expect(await say('ana', `/writeoff account:${accountId} amount:5 reason:"  "`, true)).toBe('Please give a reason: the user sees it on their activity log.');
  });
});

describe('times in /why', () => {
  const ctx = useFreshLedger('pglite');
  it('are written in the account owner’s zone when the transport does not know the reader’s (Discord, the console without --zone)', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'kenji', timeZone: 'Asia/Tokyo' } });
    const granted = await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'PLAN_GRANT', bucket: 'PLAN', amount: 150n, expiresAt: new Date(Date.now() + 30 * 86_400_000) });
    const caller: Caller = { transport: 'discord', chatUserId: '42', userExternalId: 'kenji', isStaff: false, interactionId: 'why-tokyo' };
    const text = renderText(await dispatch(ctx, logger, caller, 'why', {}));
    const tokyo = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Tokyo', dateStyle: 'medium', timeStyle: 'short' }).format(granted.entries[0]!.createdAt);
    expect(text).toContain(`from your last monthly grant on ${tokyo}`);
    expect(text).toContain('Times in Asia/Tokyo.');
  });

  it('are the same moment, in the same named zone, in every command: the grant in /activity, /why and /credits’ next grant', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'ines', timeZone: 'Europe/Lisbon' } });
    const granted = await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'PLAN_GRANT', bucket: 'PLAN', amount: 150n, expiresAt: new Date(Date.now() + 30 * 86_400_000) });
    const at = (timeZone: string) => new Intl.DateTimeFormat('en-GB', { timeZone, dateStyle: 'medium', timeStyle: 'short' }).format(granted.entries[0]!.createdAt);
    for (const [zone, readerZone] of [['Europe/Lisbon', undefined], ['America/Chicago', 'America/Chicago']] as const) {
      const caller: Caller = { transport: 'console', chatUserId: 'ines', userExternalId: 'ines', isStaff: false, interactionId: `zones-${zone}`, ...(readerZone && { timeZone: readerZone }) };
      const [activity, why, credits] = await Promise.all(['activity', 'why', 'credits'].map(async (name) => renderText(await dispatch(ctx, logger, caller, name, {}))));
      expect(activity).toContain(at(zone));
      expect(why).toContain(`from your last monthly grant on ${at(zone)}`);
      for (const text of [activity!, why!, credits!]) expect(text.split('\n').at(-1)).toBe(`Times in ${zone}.`);
    }
  });
});

describe('counts in chat text', () => {
  it('say one submission, two submissions; auto reload fired once, twice is 2 times', () => {
    const why = (findings: WhyExplanation['findings']): string =>
      renderText({
        kind: 'why',
        account: 'a',
        timeZone: 'UTC',
        explanation: { accountId: 'a', start: { reason: 'ACCOUNT_OPENED', at: null, balance: 0n, grant: null }, end: { at: new Date(), balance: 0n, outstanding: 0n }, groups: [], entriesCounted: 0, total: 0n, addsUp: true, findings, attribution: null, gap: null },
      });
    expect(why([{ kind: 'IN_FLIGHT_DEPOSITS', count: 1, amount: 88n }])).toContain('• 1 submission still in flight');
    expect(why([{ kind: 'IN_FLIGHT_DEPOSITS', count: 2, amount: 176n }])).toContain('• 2 submissions still in flight');
    expect(why([{ kind: 'AUTO_RELOAD', count: 1, amount: 100n }])).toContain('• Auto reload fired once, adding 100 credits.');
    expect(why([{ kind: 'AUTO_RELOAD', count: 2, amount: 200n }])).toContain('• Auto reload fired 2 times, adding 200 credits.');
    expect(why([{ kind: 'AUTO_RELOAD_UNSETTLED', count: 1, amount: 100n, charges: [] }])).toContain('• 1 auto reload charge for 100 credits awaits');
  });
});
