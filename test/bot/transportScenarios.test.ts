import { entriesOfType, eventually, linkedUser, offline, recordingLogger, seedMonthOfUse } from './chatTransportSupport.js';
import { createHmac, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { ApplicationCommandOptionType, Client, Events, type Interaction } from 'discord.js';
import nock from 'nock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../admin/app.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { grant } from '../../core/ledger/grant.js';
import { spend } from '../../core/ledger/spend.js';
import { loadChatConfig } from '../../bot/chatConfig.js';
import { staleButtonText } from '../../bot/chatFormat.js';
import { type DiscordHandlerOptions, handleInteraction } from '../../bot/discord/handleInteraction.js';
import { errorText } from '../../bot/errorText.js';
import { activityActionIds, activityButtonValueText } from '../../bot/slack/activityButtons.js';
import { type RunningChat, startChat } from '../../bot/startChat.js';
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
  const applicationId = '1000000000000000001';
  const guildId = '1000000000000000002';
  const channelId = '1000000000000000003';
  const staffRoleId = '1000000000000000004';
  let nextSnowflake = 1400000000000000000n;
  const snowflake = () => String(++nextSnowflake);
  const client = new Client({ intents: [], rest: { retries: 0, timeout: 2_000 } });
  const handler: DiscordHandlerOptions = { ctx, logger, staffRoleId };

  const discordUser = (id: string) => ({ id, username: `u${id.slice(-4)}`, discriminator: '0', global_name: null, avatar: null });
  interface Invoker {
    id: string;
    roles?: string[];
  }

  /** An INTERACTION_CREATE payload as Discord sends it, from a member of a server. */
  function rawInteraction(invoker: Invoker, type: number, data: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    return {
      id: snowflake(),
      application_id: applicationId,
      type,
      token: `token-${snowflake()}`,
      version: 1,
      guild_id: guildId,
      channel_id: channelId,
      channel: { id: channelId, type: 0 },
      member: { user: discordUser(invoker.id), roles: invoker.roles ?? [], permissions: '0', joined_at: '2024-01-01T00:00:00.000Z', deaf: false, mute: false, flags: 0 },
      app_permissions: '0',
      locale: 'en-GB',
      guild_locale: 'en-GB',
      entitlements: [],
      authorizing_integration_owners: { '0': guildId },
      context: 0,
      data,
      ...extra,
    };
  }
  type RawInteraction = ReturnType<typeof rawInteraction>;

  function slashCommand(invoker: Invoker, name: string, options: Record<string, string | number> = {}): RawInteraction {
    const typeOf = (value: string | number) => (typeof value === 'number' ? ApplicationCommandOptionType.Integer : ApplicationCommandOptionType.String);
    return rawInteraction(invoker, 2, {
      id: snowflake(),
      name,
      type: 1,
      options: Object.entries(options).map(([optionName, value]) => ({ name: optionName, type: typeOf(value), value })),
    });
  }

  /** A press on a button of an (ephemeral) message that answered `invoker`'s own /activity. */
  function buttonPress(invoker: Invoker, customId: string): RawInteraction {
    const message = {
      id: snowflake(),
      channel_id: channelId,
      type: 20,
      flags: 64,
      content: '',
      author: { ...discordUser(applicationId), bot: true },
      embeds: [],
      components: [],
      attachments: [],
      mentions: [],
      mention_roles: [],
      mention_everyone: false,
      pinned: false,
      tts: false,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      interaction_metadata: { id: snowflake(), type: 2, user: discordUser(invoker.id), authorizing_integration_owners: { '0': guildId } },
    };
    return rawInteraction(invoker, 3, { custom_id: customId, component_type: 2 }, { message });
  }

  /** One call the bot made to Discord's API: an interaction callback, an edit of the reply, or a follow-up message. */
  interface Sent {
    call: 'callback' | 'edit' | 'followUp';
    token: string;
    body: Record<string, any>;
  }
  const sent: Sent[] = [];

  /** Discord's interaction API, recording each call (the bot never talks to anything else here). */
  function discordApi(): void {
    const message = () => ({ id: snowflake(), channel_id: channelId, content: '', embeds: [], components: [], attachments: [], author: discordUser(applicationId), timestamp: new Date().toISOString(), type: 0, flags: 64 });
    const record = (call: Sent['call']) => async (request: Request) => {
      // /api/v10/interactions/<id>/<token>/callback, /api/v10/webhooks/<application>/<token>[/messages/@original]
      const token = new URL(request.url).pathname.split('/')[5]!;
      sent.push({ call, token, body: JSON.parse(await request.text()) as Record<string, any> });
      return call === 'callback' ? [204, ''] : [200, message()];
    };
    nock('https://discord.com')
      .persist()
      .post(/\/api\/v10\/interactions\/\d+\/[^/]+\/callback/)
      .query(true)
      .reply(record('callback'))
      .patch(/\/api\/v10\/webhooks\/\d+\/[^/]+\/messages\/(@|%40)original/)
      .query(true)
      .reply(record('edit'))
      .post(/\/api\/v10\/webhooks\/\d+\/[^/]+$/)
      .query(true)
      .reply(record('followUp'));
  }
  // offline() clears nock after each test.
  beforeEach(discordApi);

  /**
   * Delivers a payload as the gateway does (discord.js builds the interaction) and runs the bot's
   * handler on it; resolves with what the bot sent Discord for it, in order.
   */
  async function receive(payload: RawInteraction): Promise<Sent[]> {
    const start = sent.length;
    const interaction = new Promise<Interaction>((resolve) => client.once(Events.InteractionCreate, resolve));
    (client as unknown as { actions: { InteractionCreate: { handle(data: unknown): void } } }).actions.InteractionCreate.handle(payload);
    await handleInteraction(handler, await interaction);
    return sent.slice(start).filter((s) => s.token === payload.token);
  }

  /** The reply the caller finally reads: the edit of the deferred reply. */
  async function answer(payload: RawInteraction): Promise<Record<string, any>> {
    const calls = await receive(payload);
    expect(calls.map((c) => c.call)).toEqual(['callback', 'edit']);
    expect(calls[0]!.body).toEqual({ type: 5, data: { flags: 64 } });
    return calls[1]!.body;
  }

  it('seed 000 and 002: after a monthly grant of 325 and some spends, /why shows the grant, the spends by category, and a sum that matches /credits', async () => {
    const maria = { id: snowflake() };
    // Linking on Discord pays 5 credits first; the month starts at the grant after it.
    const accountId = await linkedUser(ctx, 'maria', 'DISCORD', maria.id);
    await seedMonthOfUse(ctx, accountId);

    const credits = (await answer(slashCommand(maria, 'credits'))).embeds[0];
    expect(credits.title).toBe('maria: 236 credits available');
    expect(credits.fields).toContainEqual(expect.objectContaining({ name: 'Plan', value: expect.stringMatching(/^181 · expires <t:\d+:f>$/) }));
    expect(credits.fields).toContainEqual(expect.objectContaining({ name: 'Purchased', value: '50 · never expires' }));
    expect(credits.description).toContain('In flight: 1 submission(s), 88 credits deducted at submit');

    const why = (await answer(slashCommand(maria, 'why'))).embeds[0];
    expect(why.title).toBe('maria: why');
    const table: string = why.description;
    expect(table).toMatch(/^```\n[^]*\n```$/);
    expect(table).toContain('from your last monthly grant on');
    expect(table).toContain('your balance was 5.');
    expect(table).toMatch(/Monthly grant\s+1×\s+\+325/);
    expect(table).toMatch(/Image generation\s+4×\s+-36/);
    expect(table).toMatch(/Chat\s+1×\s+-20/);
    expect(table).toMatch(/Submission\s+1×\s+-88/);
    expect(table).toContain('Now: 236 (5 + 231, it adds up).');
    expect(table).toContain('1 submission(s) still in flight: 88 credits were deducted at submit');
    expect(now(table)).toBe(available(credits.title));
    expect(await balanceOf(ctx, accountId)).toBe(236n);
  });

  it('the same /adjust interaction delivered twice (replayed, or twice at once) moves credits once', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'ines' } });
    const ana = { id: snowflake(), roles: [staffRoleId] };
    const adjust = slashCommand(ana, 'adjust', { account: accountId, amount: 25, reason: 'Delivery miss' });

    expect((await answer(adjust)).content).toMatch(/^Adjustment posted: \+25 — balance after 25, reason “Delivery miss”/);
    expect((await answer(adjust)).content).toMatch(/^Adjustment posted \(already, earlier\): \+25 — balance after 25/);
    expect(await entriesOfType(ctx, accountId, 'ADJUSTMENT')).toBe(1);
    expect(await balanceOf(ctx, accountId)).toBe(25n);

    const again = slashCommand(ana, 'adjust', { account: accountId, amount: 10, reason: 'Second miss' });
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
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 100n });
    // Each from its own project, so they are twelve rows rather than one group.
    for (let i = 0; i < 12; i++) await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 1 }, source: { kind: 'project', id: `p${i}` } });
    const page = await answer(slashCommand(kim, 'activity', { filter: 'used' }));
    const next: string = page.components[0].components[1].custom_id;
    const cursor = next.split('|')[2]!;

    const pressed = async (customId: string) => {
      const calls = await receive(buttonPress(kim, customId));
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
    const ana = { id: snowflake(), roles: [staffRoleId] };
    const before = await entryCount(ctx, accountId);
    const said = async (name: string, options: Record<string, string | number>) => (await answer(slashCommand(ana, name, options))).content as string;

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
  const signingSecret = 'test-signing-secret-0123456789';
  const staffUser = 'UADMIN01';
  let server: Server;
  let chat: RunningChat;
  let baseUrl: string;
  let triggers = 0;

  /** What the bot posted to Slack: replies to response_url (by path) and Web API calls (by method). */
  const posted: { to: string; body: Record<string, any> }[] = [];
  function slackApi(): void {
    nock('https://slack.com')
      .persist()
      .post(/\/api\/.*/)
      .reply(async (request: Request) => {
        const method = new URL(request.url).pathname.replace('/api/', '');
        const body = Object.fromEntries(new URLSearchParams(await request.text()));
        posted.push({ to: method, body });
        if (method === 'auth.test') return [200, { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1' }];
        if (method === 'users.info') return [200, { ok: true, user: { id: body.user, tz: 'UTC' } }];
        return [200, { ok: true, channel: body.channel, ts: '1.1' }];
      });
    nock('https://hooks.slack.com')
      .persist()
      .post(/.*/)
      .reply(async (request: Request) => {
        posted.push({ to: new URL(request.url).pathname, body: (await request.json()) as Record<string, any> });
        return [200, 'ok'];
      });
  }
  beforeEach(slackApi);

  beforeAll(async () => {
    slackApi();
    const config = loadChatConfig({ SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: signingSecret, SLACK_STAFF_USER_IDS: staffUser });
    chat = await startChat({ ctx, logger, config });
    const app = createApp(ctx, logger, { routers: chat.routers });
    server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await chat?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  /** Posts a form to /slack/events signed as Slack signs it; Slack itself only ever sees the status. */
  async function deliver(form: Record<string, string>): Promise<number> {
    const body = new URLSearchParams(form).toString();
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
    const response = await fetch(`${baseUrl}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature },
      body,
    });
    await response.text();
    return response.status;
  }

  /** A slash command as Slack posts it, with its own trigger id and response_url. */
  function slashCommand(user: string, command: string, text = ''): Record<string, string> {
    const n = ++triggers;
    return {
      token: 'legacy',
      team_id: 'T1',
      team_domain: 'studio',
      channel_id: 'C1',
      channel_name: 'general',
      user_id: user,
      user_name: user.toLowerCase(),
      command,
      text,
      api_app_id: 'A1',
      response_url: `https://hooks.slack.com/commands/T1/${n}/reply`,
      trigger_id: `${n}.1.abc`,
    };
  }

  /** A press on one of the buttons of the caller's ephemeral /activity reply. */
  function buttonPress(user: string, button: { action_id: string; value: string }): Record<string, string> {
    const n = ++triggers;
    const payload = {
      type: 'block_actions',
      user: { id: user, username: user.toLowerCase(), team_id: 'T1' },
      api_app_id: 'A1',
      token: 'legacy',
      container: { type: 'message', message_ts: '1.1', channel_id: 'C1', is_ephemeral: true },
      trigger_id: `${n}.2.def`,
      team: { id: 'T1', domain: 'studio' },
      channel: { id: 'C1', name: 'general' },
      response_url: `https://hooks.slack.com/actions/T1/${n}/reply`,
      actions: [{ ...button, type: 'button', block_id: 'b1', action_ts: '1.2', text: { type: 'plain_text', text: 'Next' } }],
    };
    return { payload: JSON.stringify(payload) };
  }

  /** Everything the bot answered through a request's response_url, once `count` answers arrived. */
  async function repliesTo(form: Record<string, string>, count = 1): Promise<Record<string, any>[]> {
    const url = new URL(form.response_url ?? (JSON.parse(form.payload!) as { response_url: string }).response_url).pathname;
    await eventually(() => posted.filter((p) => p.to === url).length >= count);
    return posted.filter((p) => p.to === url).map((p) => p.body);
  }

  async function answer(form: Record<string, string>): Promise<Record<string, any>> {
    expect(await deliver(form)).toBe(200);
    const [reply] = await repliesTo(form);
    return reply!;
  }

  /** The Block Kit text of a reply: every section, header and context, in order. */
  const blockText = (message: Record<string, any>) =>
    (message.blocks as { type: string; text?: { text: string }; fields?: { text: string }[]; elements?: { text?: string }[] }[])
      .flatMap((b) => [b.text?.text, ...(b.fields ?? []).map((f) => f.text), ...(b.type === 'context' ? (b.elements ?? []).map((e) => e.text) : [])])
      .filter((t): t is string => t !== undefined);

  it('seed 000 and 002: after a monthly grant of 325 and some spends, /why shows the grant, the spends by category, and a sum that matches /credits', async () => {
    const accountId = await linkedUser(ctx, 'maria', 'SLACK', 'UMARIA01');
    await seedMonthOfUse(ctx, accountId);

    const credits = await answer(slashCommand('UMARIA01', '/credits'));
    expect(credits.response_type).toBe('ephemeral');
    const [title, ...kinds] = blockText(credits);
    expect(title).toBe('maria: 231 credits available');
    expect(kinds).toContainEqual(expect.stringMatching(/^\*Plan\*\n181 · expires /));
    expect(kinds).toContain('*Purchased*\n50 · never expires');
    expect(kinds.at(-1)).toContain('In flight: 1 submission(s), 88 credits deducted at submit');

    const why = await answer(slashCommand('UMARIA01', '/why'));
    expect(why.response_type).toBe('ephemeral');
    const [table] = blockText(why);
    expect(table).toMatch(/^```[^]*```$/);
    expect(table).toContain('maria: from your last monthly grant on');
    expect(table).toContain('your balance was 0.');
    expect(table).toMatch(/Monthly grant\s+1×\s+\+325/);
    expect(table).toMatch(/Image generation\s+4×\s+-36/);
    expect(table).toMatch(/Chat\s+1×\s+-20/);
    expect(table).toMatch(/Submission\s+1×\s+-88/);
    expect(table).toContain('Now: 231 (0 + 231, it adds up).');
    expect(table).toContain('1 submission(s) still in flight: 88 credits were deducted at submit');
    expect(now(table!)).toBe(available(title!));
    expect(await balanceOf(ctx, accountId)).toBe(231n);
  });

  it('the same /adjust trigger delivered twice (replayed, or twice at once) moves credits once', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'ines' } });
    const adjust = slashCommand(staffUser, '/adjust', `account:${accountId} amount:25 reason:"Delivery miss"`);

    expect((await answer(adjust)).text).toMatch(/^Adjustment posted: \+25 — balance after 25, reason “Delivery miss”/);
    expect(await deliver(adjust)).toBe(200);
    expect((await repliesTo(adjust, 2))[1]!.text).toMatch(/^Adjustment posted \(already, earlier\): \+25 — balance after 25/);
    expect(await entriesOfType(ctx, accountId, 'ADJUSTMENT')).toBe(1);
    expect(await balanceOf(ctx, accountId)).toBe(25n);

    const again = slashCommand(staffUser, '/adjust', `account:${accountId} amount:10 reason:"Second miss"`);
    expect(await Promise.all([deliver(again), deliver(again)])).toEqual([200, 200]);
    expect((await repliesTo(again, 2)).map((r) => r.text)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Adjustment posted: \+10 — balance after 35/), expect.stringMatching(/^Adjustment posted \(already, earlier\): \+10 — balance after 35/)]),
    );
    expect(await entriesOfType(ctx, accountId, 'ADJUSTMENT')).toBe(2);
    expect(await balanceOf(ctx, accountId)).toBe(35n);
  });

  it('a button from an old message (a malformed value, a garbage cursor, an account that is gone) gets an ephemeral sentence, logged; the page stays', async () => {
    const accountId = await linkedUser(ctx, 'kim', 'SLACK', 'UKIM0001');
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 100n });
    // Each from its own project, so they are twelve rows rather than one group.
    for (let i = 0; i < 12; i++) await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 1 }, source: { kind: 'project', id: `p${i}` } });
    const page = await answer(slashCommand('UKIM0001', '/activity', 'filter:used'));
    const next = (page.blocks as { type: string; elements?: { action_id: string; value: string }[] }[]).find((b) => b.type === 'actions')!.elements![0]!;
    const { page: cursor } = JSON.parse(next.value) as { page: string };

    const pressed = async (value: string) => {
      const press = buttonPress('UKIM0001', { action_id: activityActionIds.next, value });
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
      const reply = await answer(slashCommand(staffUser, command, text));
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
