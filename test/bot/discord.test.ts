import { discordButtonPress, discordInteractionApi, discordSlashCommand, discordStaffRoleId, eventually, interactionFrom, linkedUser, offline, offlineClientOptions, type RawInteraction, recordingLogger, requestBody, resetChatApis, seedTwelveChats, snowflake } from './chatTransportSupport.js';
import { ApplicationCommandOptionType, Client } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { addMember } from '../../core/accounts/addMember.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import type { CoreContext } from '../../core/context.js';
import { createLinkCode } from '../../core/identity/createLinkCode.js';
import { grant } from '../../core/ledger/grant.js';
import { scheduleGrant } from '../../core/ledger/scheduleGrant.js';
import { spend } from '../../core/ledger/spend.js';
import { discordCommandDefinitions } from '../../bot/discord/commandDefinitions.js';
import { type DiscordHandlerOptions, handleInteraction } from '../../bot/discord/handleInteraction.js';
import { errorText } from '../../bot/errorText.js';
import { balanceOf, entryCount, inDays, key, service, useFreshLedger } from '../support/scenario.js';

const manageGuild = (1n << 5n).toString();

/** What the bot sent to Discord's API, in order. */
interface Sent {
  method: string;
  path: string;
  body: Record<string, unknown> | string;
}

/**
 * Discord's API for interactions: callbacks (defer, update, autocomplete) and edits of the
 * original reply, recorded. `failing` answers every call with a 500.
 */
function discordApi(failing = false) {
  const sent: Sent[] = [];
  discordInteractionApi(async (_call, _token, request) => {
    sent.push({ method: request.method, path: new URL(request.url).pathname, body: (await requestBody(request)) as Sent['body'] });
    return failing ? 500 : undefined;
  });
  return sent;
}

const json = (body: Sent['body']) => (typeof body === 'string' ? (JSON.parse(body) as Record<string, unknown>) : body);

describe('the Discord bot', () => {
  const ctx = useFreshLedger('pglite');
  offline();
  const { logger, lines } = recordingLogger();
  const client = new Client(offlineClientOptions);
  const linkedToBot: { to: string; rewarded: bigint }[] = [];
  const handler = (over: Partial<DiscordHandlerOptions> = {}): DiscordHandlerOptions => ({
    ctx,
    logger,
    staffRoleId: discordStaffRoleId,
    onLinked: (to, view) => linkedToBot.push({ to, rewarded: view.rewarded }),
    ...over,
  });

  /** Feeds a raw payload through discord.js, as the gateway does, and runs the bot's handler on it. */
  async function receive(payload: RawInteraction, options = handler()): Promise<void> {
    await handleInteraction(options, await interactionFrom(client, payload));
  }

  it('registers typed commands from the zod options: integers, choices, autocomplete, staff hidden by default', () => {
    const definitions = discordCommandDefinitions();
    const byName = (name: string) => definitions.find((d) => d.name === name)!;
    const adjust = byName('adjust');
    expect(adjust.default_member_permissions).toBe(manageGuild);
    expect(adjust.options).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'amount', type: ApplicationCommandOptionType.Integer, required: true }),
        expect.objectContaining({ name: 'reason', type: ApplicationCommandOptionType.String, required: true }),
      ]),
    );
    const activity = byName('activity');
    expect(activity.default_member_permissions).toBeUndefined();
    expect(activity.options).toContainEqual(expect.objectContaining({ name: 'account', autocomplete: true, required: false }));
    expect(activity.options).toContainEqual(
      expect.objectContaining({ name: 'filter', choices: ['all', 'added', 'used', 'adjustments'].map((v) => ({ name: v, value: v })) }),
    );
    expect(byName('refund').options!.map((o) => o.required)).toEqual([true, true, true, false]);
  });

  it('an unlinked member is told to link, in a reply only they see, after deferring', async () => {
    const sent = discordApi();
    await receive(discordSlashCommand({ id: snowflake() }, 'credits'));

    expect(sent.map((s) => `${s.method} ${s.path.split('/').slice(3, 4)}`)).toEqual(['POST interactions', 'PATCH webhooks']);
    expect(json(sent[0]!.body)).toEqual({ type: 5, data: { flags: 64 } });
    expect(json(sent[1]!.body)).toMatchObject({ content: errorText.NOT_LINKED });
  });

  it('/link pays the 5-credit Discord reward once; the same Discord account linking again gets nothing more', async () => {
    const discordId = snowflake();
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'dora' } });
    const sent = discordApi();
    await receive(discordSlashCommand({ id: discordId }, 'link', { code: (await createLinkCode(ctx, { userExternalId: 'dora', provider: 'DISCORD' })).code }));
    expect(json(sent[1]!.body)).toMatchObject({ content: 'Linked to dora. Discord reward: +5 — balance 5.' });
    await receive(discordSlashCommand({ id: discordId }, 'link', { code: (await createLinkCode(ctx, { userExternalId: 'dora', provider: 'DISCORD' })).code }));
    expect(json(sent[3]!.body)).toMatchObject({ content: 'Linked to dora.' });
    expect(await balanceOf(ctx, accountId)).toBe(5n);
    expect(linkedToBot.filter((l) => l.to === discordId)).toEqual([
      { to: discordId, rewarded: 5n },
      { to: discordId, rewarded: 0n },
    ]);
  });

  it('/credits: an embed of what the caller has, expiries in the account owner’s zone, named in the footer', async () => {
    const discordId = snowflake();
    const accountId = await linkedUser(ctx, 'carla', 'DISCORD', discordId);
    const expiresAt = inDays(20);
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'PLAN_GRANT', bucket: 'PLAN', amount: 150n, expiresAt });
    const sent = discordApi();
    await receive(discordSlashCommand({ id: discordId }, 'credits'));
    const [embed] = json(sent[1]!.body).embeds as { title: string; fields: { name: string; value: string }[]; footer: { text: string } }[];
    expect(embed!.title).toBe('carla: 155 credits available');
    const utc = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' }).format(expiresAt);
    expect(embed!.fields).toContainEqual(expect.objectContaining({ name: 'Plan', value: `150 · expires ${utc}` }));
    expect(embed!.footer.text).toBe('Times in UTC.');
  });

  it('/activity pages with buttons that carry filter and cursor; only the caller may press them', async () => {
    const discordId = snowflake();
    const accountId = await linkedUser(ctx, 'paula', 'DISCORD', discordId);
    await seedTwelveChats(ctx, accountId, (i) => ({ label: `Project ${i}`, url: `https://studio.example/p/${i}` }));
    const sent = discordApi();
    await receive(discordSlashCommand({ id: discordId }, 'activity', { filter: 'used' }));
    const first = json(sent[1]!.body) as { embeds: { description: string; fields: { name: string; value: string }[] }[]; components: { components: { custom_id: string; disabled: boolean; label: string }[] }[] };
    expect(first.embeds[0]!.description).toBe('Showing 1–10 of 12');
    expect(first.embeds[0]!.fields).toHaveLength(10);
    expect(first.embeds[0]!.fields[0]!.name).toBe('Chat · -1 → 93');
    expect(first.embeds[0]!.fields[0]!.value).toMatch(/^\d{1,2} \w{3} \d{4}, \d\d:\d\d · .+ · \[Project 11\]\(https:\/\/studio\.example\/p\/11\)$/);
    const [previous, next] = first.components[0]!.components;
    expect(previous).toMatchObject({ label: 'Previous', disabled: true });
    expect(next).toMatchObject({ label: 'Next', disabled: false });
    expect(next!.custom_id).toMatch(/^activity\|used\|[\w-]+\|$/);

    await receive(discordButtonPress({ id: snowflake() }, next!.custom_id, discordId));
    expect(json(sent[2]!.body)).toMatchObject({ type: 4, data: { content: 'Only the person who ran /activity can turn its pages.', flags: 64 } });

    await receive(discordButtonPress({ id: discordId }, next!.custom_id, discordId));
    expect(json(sent[3]!.body)).toEqual({ type: 6 });
    const second = json(sent[4]!.body) as typeof first;
    expect(second.embeds[0]!.description).toBe('Showing 11–12 of 12');
    expect(second.components[0]!.components.map((b) => b.disabled)).toEqual([false, true]);
  });

  it('/activity of an organisation the caller belongs to: autocomplete offers it, the buttons keep it', async () => {
    const discordId = snowflake();
    await linkedUser(ctx, 'omar', 'DISCORD', discordId);
    const org = await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: 'studio', name: 'Studio' } });
    await openAccount(ctx, { owner: { kind: 'CLIENT', organisationExternalId: 'studio', externalId: 'acme', name: 'Acme' } });
    await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: 'stranger', name: 'Stranger' } });
    await addMember(ctx, { organisationExternalId: 'studio', userExternalId: 'omar', role: 'OPERATOR' });
    await grant(ctx, { accountId: org.accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 500n });
    for (let i = 0; i < 11; i++) await spend(ctx, { accountId: org.accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 1 }, source: { kind: 'event', id: `e${i}` } });

    const sent = discordApi();
    const typing = discordSlashCommand({ id: discordId }, 'activity');
    (typing.data as { options: unknown[] }).options = [{ name: 'account', type: ApplicationCommandOptionType.String, value: 'st', focused: true }];
    await receive({ ...typing, type: 4 });
    expect(json(sent[0]!.body)).toEqual({ type: 8, data: { choices: [{ name: 'Studio — studio', value: 'studio' }, { name: 'Acme (Studio) — studio/acme', value: 'studio/acme' }].sort((a, b) => a.value.localeCompare(b.value)) } });

    await receive(discordSlashCommand({ id: discordId }, 'activity', { account: 'studio' }));
    const page = json(sent[2]!.body) as { embeds: { title: string }[]; components: { components: { custom_id: string }[] }[] };
    expect(page.embeds[0]!.title).toBe('Studio — activity (all)');
    expect(page.components[0]!.components[1]!.custom_id).toMatch(/\|studio$/);
    await receive(discordButtonPress({ id: discordId }, page.components[0]!.components[1]!.custom_id, discordId));
    expect((json(sent[4]!.body) as { embeds: { title: string; description: string }[] }).embeds[0]).toMatchObject({ title: 'Studio — activity (all)', description: 'Showing 11–12 of 12' });
  });

  it('/usage attaches the 30-day chart as a PNG, with the total and average in the text', async () => {
    const discordId = snowflake();
    const accountId = await linkedUser(ctx, 'uma', 'DISCORD', discordId);
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 3 } });
    const sent = discordApi();
    await receive(discordSlashCommand({ id: discordId }, 'usage'));
    const body = String(sent[1]!.body);
    expect(body).toContain('filename="usage.png"');
    expect(body).toContain('PNG');
    expect(body).toContain('uma: 3 credits used in the last 30 days, 0.1 a day on average (UTC).');
    expect(body).toContain('attachment://usage.png');
  });

  it('staff commands: refused for a member without the staff role or Manage Server (even if Discord showed them the command); done for staff', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'sid' } });
    const sent = discordApi();
    const notStaff = snowflake();
    await receive(discordSlashCommand({ id: notStaff, roles: ['1000000000000000099'] }, 'adjust', { account: accountId, amount: 500, reason: 'I deserve it' }));
    expect(json(sent[1]!.body)).toMatchObject({ content: errorText.FORBIDDEN });
    expect(await ctx.db.prisma.auditEntry.count({ where: { action: 'chat.adjust', outcome: 'denied: not staff', actorId: `discord:${notStaff}` } })).toBe(1);
    expect(await entryCount(ctx, accountId)).toBe(0);

    await receive(discordSlashCommand({ id: snowflake(), roles: [discordStaffRoleId] }, 'adjust', { account: accountId, amount: 25, reason: 'Delivery miss' }));
    expect(json(sent[3]!.body).content).toMatch(/^Adjustment posted: \+25 — balance after 25, reason “Delivery miss”/);
    await receive(discordSlashCommand({ id: snowflake(), permissions: manageGuild }, 'writeoff', { account: accountId, amount: 5, reason: 'Test credits' }));
    expect(json(sent[5]!.body).content).toMatch(/^Write-off posted: -5 — balance after 20/);
    expect(await balanceOf(ctx, accountId)).toBe(20n);
  });

  it('/scheduled of 20 dated bonuses with long reasons: one embed, its table clipped to Discord\'s limits, no 2,000-character message', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'sched-many' } });
    const reason = 'Conference goodwill for the spring speakers, agreed with the events team in the planning call';
    for (let day = 1; day <= 20; day++) {
      await scheduleGrant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'MANUAL_CREDIT', bucket: 'BONUS', amount: 10n, reason, effectiveAt: inDays(day) });
    }
    const sent = discordApi();
    await receive(discordSlashCommand({ id: snowflake(), roles: [discordStaffRoleId] }, 'scheduled', { account: accountId }));
    const reply = json(sent[1]!.body) as { content?: string; embeds: { title: string; description: string }[] };
    expect(reply.content ?? '').toHaveLength(0);
    expect(reply.embeds).toHaveLength(1);
    const table = reply.embeds[0]!.description;
    // 20 rows of this length are more than a message holds: unclipped, the reply would be refused.
    expect(table).toMatch(/^```\n.*20 scheduled, soonest first/);
    expect(table.length).toBeGreaterThan(2000);
    expect(table.length).toBeLessThanOrEqual(4096);
    expect(table.endsWith('```')).toBe(true);
  });

  it('an unexpected failure replies "Something went wrong (ref …)"; a failing Discord API is logged, never thrown', async () => {
    const brokenDb = { ...ctx.db, sql: { ...ctx.db.sql, query: () => Promise.reject(new Error('connection reset')) } } as CoreContext['db'];
    let sent = discordApi();
    await receive(discordSlashCommand({ id: snowflake() }, 'credits'), handler({ ctx: { ...ctx, db: brokenDb } }));
    expect(json(sent[1]!.body).content).toMatch(/^Something went wrong \(ref [0-9a-f]{8}\)\.$/);
    expect(lines.some((l) => l.msg === 'chat request failed' && (l.err as { message: string }).message === 'connection reset')).toBe(true);

    expect(resetChatApis()).toEqual([]);
    sent = discordApi(true);
    await expect(receive(discordSlashCommand({ id: snowflake() }, 'credits'))).resolves.toBeUndefined();
    await eventually(() => lines.some((l) => l.msg === 'could not tell a Discord user about a failure'));
    expect(sent.length).toBeGreaterThanOrEqual(1);
  });
});
