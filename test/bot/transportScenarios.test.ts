import { discordButtonPress, type DiscordCall, discordInteractionApi, discordSlashCommand, discordStaffRoleId, entriesOfType, expectWhyOfMonthOfUse, interactionFrom, linkedUser, offline, offlineClientOptions, type RawInteraction, recordingLogger, requestBody, seedMonthOfUse, seedTwelveChats, slackButtonPress, slackOnAdminApp, slackSlashCommand, snowflake } from './chatTransportSupport.js';
import { randomUUID } from 'node:crypto';
import { Client } from 'discord.js';
import { beforeEach, describe, expect, it } from 'vitest';
import { openAccount } from '../../core/accounts/openAccount.js';
import { grant } from '../../core/ledger/grant.js';
import { staleButtonText } from '../../bot/chatFormat.js';
import { type DiscordHandlerOptions, handleInteraction } from '../../bot/discord/handleInteraction.js';
import { errorText } from '../../bot/errorText.js';
import { activityActionIds, activityButtonValueText } from '../../bot/slack/activityButtons.js';
import { balanceOf, entryCount, key, service, useFreshLedger } from '../support/scenario.js';

/**
 * The seed scenarios, replays, stale buttons and bad input through the real transports: a
 * discord.js client fed the raw payloads Discord sends, and the Bolt app mounted on the admin
 * app receiving signed requests. What is asserted is what each transport sent back.
 */

/** The numbers a reply states: /credits' available and /why's "Now:" must be the same. */
const available = (title: string) => /: ([\d,]+) credits available$/.exec(title)?.[1];
const now = (why: string) => /Now: ([\d,]+) \(/.exec(why)?.[1];

describe('the seed scenarios on Discord', () => {
  const ctx = useFreshLedger('pglite');
  offline();
  const { logger, lines } = recordingLogger();
  const client = new Client(offlineClientOptions);
  const handler: DiscordHandlerOptions = { ctx, logger, staffRoleId: discordStaffRoleId };

  /** One call the bot made to Discord's API: an interaction callback, an edit of the reply, or a follow-up message. */
  interface Sent {
    call: DiscordCall;
    token: string;
    body: Record<string, any>;
  }
  const sent: Sent[] = [];
  // Discord's interaction API, recording each call (the bot never talks to anything else here); offline() clears its routes after each test.
  beforeEach(() =>
    discordInteractionApi(async (call, token, request) => {
      sent.push({ call, token, body: (await requestBody(request)) as Record<string, any> });
    }),
  );

  /**
   * Delivers a payload as the gateway does (discord.js builds the interaction) and runs the bot's
   * handler on it; resolves with what the bot sent Discord for it, in order.
   */
  async function receive(payload: RawInteraction): Promise<Sent[]> {
    const start = sent.length;
    await handleInteraction(handler, await interactionFrom(client, payload));
    return sent.slice(start).filter((s) => s.token === payload.token);
  }

  /** The reply the caller finally reads: the edit of the deferred reply. */
  async function answer(payload: RawInteraction): Promise<Record<string, any>> {
    const calls = await receive(payload);
    expect(calls.map((c) => c.call)).toEqual(['callback', 'edit']);
    expect(calls[0]!.body).toEqual({ type: 5, data: { flags: 64 } });
    return calls[1]!.body;
  }

  it('after a monthly grant of 325 and some spends, /why shows the grant, the spends by category, and a sum that matches /credits', async () => {
    const maria = { id: snowflake() };
    // Linking on Discord pays 5 credits first; the month starts at the grant after it.
    const accountId = await linkedUser(ctx, 'maria', 'DISCORD', maria.id);
    await seedMonthOfUse(ctx, accountId);

    const credits = (await answer(discordSlashCommand(maria, 'credits'))).embeds[0];
    expect(credits.title).toBe('maria: 236 credits available');
    expect(credits.fields).toContainEqual(expect.objectContaining({ name: 'Plan', value: expect.stringMatching(/^181 · expires \d{1,2} \w{3} \d{4}, \d\d:\d\d$/) }));
    expect(credits.fields).toContainEqual(expect.objectContaining({ name: 'Purchased', value: '50 · never expires' }));
    expect(credits.description).toContain('In flight: 1 submission, 88 credits deducted at submit');

    const why = (await answer(discordSlashCommand(maria, 'why'))).embeds[0];
    expect(why.title).toBe('maria: why');
    const table: string = why.description;
    expect(table).toMatch(/^```\n[^]*\n```$/);
    expectWhyOfMonthOfUse(table, { balanceWas: 5, now: 236 });
    expect(now(table)).toBe(available(credits.title));
    expect(await balanceOf(ctx, accountId)).toBe(236n);
  });

  it('the same /adjust interaction delivered twice (replayed, or twice at once) moves credits once', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'ines' } });
    const ana = { id: snowflake(), roles: [discordStaffRoleId] };
    const adjust = discordSlashCommand(ana, 'adjust', { account: accountId, amount: 25, reason: 'Delivery miss' });

    expect((await answer(adjust)).content).toMatch(/^Adjustment posted: \+25 — balance after 25, reason “Delivery miss”/);
    expect((await answer(adjust)).content).toMatch(/^Adjustment posted \(already, earlier\): \+25 — balance after 25/);
    expect(await entriesOfType(ctx, accountId, 'ADJUSTMENT')).toBe(1);
    expect(await balanceOf(ctx, accountId)).toBe(25n);

    const again = discordSlashCommand(ana, 'adjust', { account: accountId, amount: 10, reason: 'Second miss' });
    await Promise.all([receive(again), receive(again)]);
    expect(sent.filter((c) => c.token === again.token && c.call === 'edit').map((c) => c.body.content)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Adjustment posted: \+10 — balance after 35/), expect.stringMatching(/^Adjustment posted \(already, earlier\): \+10 — balance after 35/)]),
    );
    expect(await entriesOfType(ctx, accountId, 'ADJUSTMENT')).toBe(2);
    expect(await balanceOf(ctx, accountId)).toBe(35n);
  });

  it('a button from an old message (a garbage cursor, an account that is gone, an id that is not ours) gets an ephemeral sentence, logged; the page stays', async () => {
    const kim = { id: snowflake() };
    const accountId = await linkedUser(ctx, 'kim', 'DISCORD', kim.id);
    await seedTwelveChats(ctx, accountId);
    const page = await answer(discordSlashCommand(kim, 'activity', { filter: 'used' }));
    const next: string = page.components[0].components[1].custom_id;
    const cursor = next.split('|')[2]!;

    const pressed = async (customId: string) => {
      const calls = await receive(discordButtonPress(kim, customId));
      // Nothing edits the page: the presser alone is told, in a message only they see.
      expect(calls.filter((c) => c.call === 'edit')).toEqual([]);
      const told = calls.find((c) => c.call === 'followUp')?.body ?? calls[0]!.body.data;
      expect(told.flags).toBe(64);
      return told.content as string;
    };
    const warned = (customId: string) => lines.some((l) => l.level === 40 && l.customId === customId);

    const garbage = 'activity|used|bm90LWEtY3Vyc29y|';
    expect(await pressed(garbage)).toBe(`${errorText.VALIDATION_FAILED}: cursor: not a cursor from this log; start from the first page.`);
    expect(warned(garbage)).toBe(true);

    const gone = `activity|used|${cursor}|closed-studio`;
    expect(await pressed(gone)).toBe(errorText.ACCOUNT_NOT_FOUND);
    expect(warned(gone)).toBe(true);

    for (const foreign of ['activity|used', 'activity-none-Next', 'page:2']) {
      expect(await pressed(foreign)).toBe(staleButtonText);
      expect(warned(foreign)).toBe(true);
    }
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('bad input (too long, negative, absurd, an unknown entry) gets the error table’s sentence, ephemerally, and writes nothing', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'noor' } });
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 40n });
    const ana = { id: snowflake(), roles: [discordStaffRoleId] };
    const before = await entryCount(ctx, accountId);
    const said = async (name: string, options: Record<string, string | number>) => (await answer(discordSlashCommand(ana, name, options))).content as string;

    // Discord enforces max_length in its own client; a raw payload need not.
    expect(await said('lookup', { search: 'x'.repeat(201) })).toBe(`${errorText.VALIDATION_FAILED}: search: may be at most 200 characters.`);
    expect(await said('adjust', { account: accountId, amount: 5, reason: 'r'.repeat(501) })).toBe(`${errorText.VALIDATION_FAILED}: reason: may be at most 500 characters.`);
    expect(await said('grant', { account: accountId, amount: -5, reason: 'Goodwill' })).toBe(errorText.AMOUNT_OUT_OF_RANGE);
    // The largest integer Discord lets an option carry, far beyond what one operation may move.
    expect(await said('writeoff', { account: accountId, amount: Number.MAX_SAFE_INTEGER, reason: 'Test credits' })).toBe(errorText.AMOUNT_OUT_OF_RANGE);
    expect(await said('adjust', { account: accountId, amount: -500, reason: 'Clawback' })).toBe(errorText.INSUFFICIENT_CREDITS);
    expect(await said('refund', { account: accountId, entry: randomUUID(), reason: 'Failed render' })).toBe(errorText.ENTRY_NOT_FOUND);
    expect(await said('refund', { account: accountId, entry: 'last-one', reason: 'Failed render' })).toBe(`${errorText.VALIDATION_FAILED}: entry: entry must be an entry id.`);

    expect(await entryCount(ctx, accountId)).toBe(before);
    expect(await balanceOf(ctx, accountId)).toBe(40n);
  });
});

describe('the seed scenarios on Slack, mounted on the admin app', () => {
  const ctx = useFreshLedger('pglite');
  offline();
  const { logger, lines } = recordingLogger();
  const staffUser = 'UADMIN01';
  const { answer, deliver, repliesTo } = slackOnAdminApp(ctx, logger, { SLACK_STAFF_USER_IDS: staffUser });

  /** The Block Kit text of a reply: every section, header and context, in order. */
  const blockText = (message: Record<string, any>) =>
    (message.blocks as { type: string; text?: { text: string }; fields?: { text: string }[]; elements?: { text?: string }[] }[])
      .flatMap((b) => [b.text?.text, ...(b.fields ?? []).map((f) => f.text), ...(b.type === 'context' ? (b.elements ?? []).map((e) => e.text) : [])])
      .filter((t): t is string => t !== undefined);

  it('after a monthly grant of 325 and some spends, /why shows the grant, the spends by category, and a sum that matches /credits', async () => {
    const accountId = await linkedUser(ctx, 'maria', 'SLACK', 'UMARIA01');
    await seedMonthOfUse(ctx, accountId);

    const credits = await answer(slackSlashCommand('UMARIA01', '/credits'));
    expect(credits.response_type).toBe('ephemeral');
    const [title, ...kinds] = blockText(credits);
    expect(title).toBe('maria: 231 credits available');
    expect(kinds).toContainEqual(expect.stringMatching(/^\*Plan\*\n181 · expires /));
    expect(kinds).toContain('*Purchased*\n50 · never expires');
    expect(kinds.at(-1)).toContain('In flight: 1 submission, 88 credits deducted at submit');

    const why = await answer(slackSlashCommand('UMARIA01', '/why'));
    expect(why.response_type).toBe('ephemeral');
    const [table] = blockText(why);
    expect(table).toMatch(/^```[^]*```$/);
    expect(table).toContain('maria: from your last monthly grant on');
    expectWhyOfMonthOfUse(table!, { balanceWas: 0, now: 231 });
    expect(now(table!)).toBe(available(title!));
    expect(await balanceOf(ctx, accountId)).toBe(231n);
  });

  it('the same /adjust trigger delivered twice (replayed, or twice at once) moves credits once', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'ines' } });
    const adjust = slackSlashCommand(staffUser, '/adjust', `account:${accountId} amount:25 reason:"Delivery miss"`);

    expect((await answer(adjust)).text).toMatch(/^Adjustment posted: \+25 — balance after 25, reason “Delivery miss”/);
    expect(await deliver(adjust)).toBe(200);
    expect((await repliesTo(adjust, 2))[1]!.text).toMatch(/^Adjustment posted \(already, earlier\): \+25 — balance after 25/);
    expect(await entriesOfType(ctx, accountId, 'ADJUSTMENT')).toBe(1);
    expect(await balanceOf(ctx, accountId)).toBe(25n);

    const again = slackSlashCommand(staffUser, '/adjust', `account:${accountId} amount:10 reason:"Second miss"`);
    expect(await Promise.all([deliver(again), deliver(again)])).toEqual([200, 200]);
    expect((await repliesTo(again, 2)).map((r) => r.text)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Adjustment posted: \+10 — balance after 35/), expect.stringMatching(/^Adjustment posted \(already, earlier\): \+10 — balance after 35/)]),
    );
    expect(await entriesOfType(ctx, accountId, 'ADJUSTMENT')).toBe(2);
    expect(await balanceOf(ctx, accountId)).toBe(35n);
  });

  it('a button from an old message (a malformed value, a garbage cursor, an account that is gone) gets an ephemeral sentence, logged; the page stays', async () => {
    const accountId = await linkedUser(ctx, 'kim', 'SLACK', 'UKIM0001');
    await seedTwelveChats(ctx, accountId);
    const page = await answer(slackSlashCommand('UKIM0001', '/activity', 'filter:used'));
    const next = (page.blocks as { type: string; elements?: { action_id: string; value: string }[] }[]).find((b) => b.type === 'actions')!.elements![0]!;
    const { page: cursor } = JSON.parse(next.value) as { page: string };

    const pressed = async (value: string) => {
      const press = slackButtonPress('UKIM0001', { action_id: activityActionIds.next, value });
      const reply = await answer(press);
      // The page stays as it was: the sentence goes to the presser alone, beside it.
      expect(reply).toMatchObject({ response_type: 'ephemeral', replace_original: false });
      const trigger = (JSON.parse(press.payload!) as { trigger_id: string }).trigger_id;
      expect(lines.some((l) => l.level === 40 && l.interactionId === trigger)).toBe(true);
      return reply.text as string;
    };

    for (const malformed of ['not json', '{"caller":"UKIM0001"}', JSON.stringify({ caller: 'UKIM0001', filter: 'used', page: cursor, extra: 1 }), '']) {
      expect(await pressed(malformed)).toBe(staleButtonText);
    }
    expect(await pressed(activityButtonValueText({ caller: 'UKIM0001', filter: 'used', page: 'bm90LWEtY3Vyc29y' }))).toBe(
      `${errorText.VALIDATION_FAILED}: cursor: not a cursor from this log; start from the first page.`,
    );
    expect(await pressed(activityButtonValueText({ caller: 'UKIM0001', filter: 'used', page: cursor, account: 'closed-studio' }))).toBe(errorText.ACCOUNT_NOT_FOUND);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('bad input (too long, negative, absurd, an unknown entry) gets the error table’s sentence, ephemerally, and writes nothing', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'noor' } });
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 40n });
    const before = await entryCount(ctx, accountId);
    const said = async (command: string, text: string) => {
      const reply = await answer(slackSlashCommand(staffUser, command, text));
      expect(reply.response_type).toBe('ephemeral');
      return reply.text as string;
    };

    expect(await said('/lookup', 'x'.repeat(201))).toBe(`${errorText.VALIDATION_FAILED}: search: may be at most 200 characters.`);
    expect(await said('/adjust', `account:${accountId} amount:5 reason:"${'r'.repeat(501)}"`)).toBe(`${errorText.VALIDATION_FAILED}: reason: may be at most 500 characters.`);
    expect(await said('/grant', `account:${accountId} amount:-5 reason:Goodwill`)).toBe(errorText.AMOUNT_OUT_OF_RANGE);
    expect(await said('/writeoff', `account:${accountId} amount:100000000000000000000 reason:"Test credits"`)).toBe(errorText.AMOUNT_OUT_OF_RANGE);
    expect(await said('/adjust', `account:${accountId} amount:lots reason:Clawback`)).toMatch(new RegExp(`^${errorText.VALIDATION_FAILED}: amount: `));
    expect(await said('/adjust', `account:${accountId} amount:-500 reason:Clawback`)).toBe(errorText.INSUFFICIENT_CREDITS);
    expect(await said('/refund', `account:${accountId} entry:${randomUUID()} reason:"Failed render"`)).toBe(errorText.ENTRY_NOT_FOUND);

    expect(await entryCount(ctx, accountId)).toBe(before);
    expect(await balanceOf(ctx, accountId)).toBe(40n);
  });
});
