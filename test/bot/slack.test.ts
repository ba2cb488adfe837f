import { eventually, linkedUser, offline, recordingLogger } from './chatTransportSupport.js';
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import nock from 'nock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../admin/app.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { createLinkCode } from '../../core/identity/createLinkCode.js';
import { grant } from '../../core/ledger/grant.js';
import { spend } from '../../core/ledger/spend.js';
import { loadChatConfig } from '../../bot/chatConfig.js';
import { errorText } from '../../bot/errorText.js';
import { type RunningChat, startChat } from '../../bot/startChat.js';
import { balanceOf, key, service, useFreshLedger } from '../support/scenario.js';

const signingSecret = 'test-signing-secret-0123456789';
const staffUser = 'UADMIN01';
const staffGroup = 'S0STAFF';
const groupMember = 'UGROUP01';

/** What the bot posted to Slack: replies to response_url and Web API calls, in order. */
interface Posted {
  to: string;
  body: Record<string, unknown>;
}

/** Slack's side: the Web API (auth.test, users.info with a time zone, the staff group, chat.postMessage) and response URLs. */
function slackApi(posted: Posted[], timeZones: Record<string, string>): void {
  nock('https://slack.com')
    .persist()
    .post(/\/api\/.*/)
    .reply(async (request: Request) => {
      const method = new URL(request.url).pathname.replace('/api/', '');
      const body = Object.fromEntries(new URLSearchParams(await request.text()));
      posted.push({ to: method, body });
      switch (method) {
        case 'auth.test':
          return [200, { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1' }];
        case 'users.info':
          return [200, { ok: true, user: { id: body.user, tz: timeZones[String(body.user)] ?? 'UTC' } }];
        case 'usergroups.users.list':
          return [200, { ok: true, users: [groupMember] }];
        default:
          return [200, { ok: true, channel: body.channel, ts: '1.1' }];
      }
    });
  nock('https://hooks.slack.com')
    .persist()
    .post(/.*/)
    .reply(async (request: Request) => {
      posted.push({ to: new URL(request.url).pathname, body: (await request.json()) as Record<string, unknown> });
      return [200, 'ok'];
    });
}

describe('the Slack bot, mounted on the admin app', () => {
  const ctx = useFreshLedger('pglite');
  offline();
  const { logger } = recordingLogger();
  let server: Server;
  let chat: RunningChat;
  let baseUrl: string;
  const posted: Posted[] = [];
  // offline() clears nock after each test.
  beforeEach(() => slackApi(posted, { UTOKYO01: 'Asia/Tokyo' }));
  let triggers = 0;

  beforeAll(async () => {
    slackApi(posted, { UTOKYO01: 'Asia/Tokyo' });
    const config = loadChatConfig({
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: signingSecret,
      SLACK_STAFF_USER_IDS: `${staffUser}, UOTHER`,
      SLACK_STAFF_USERGROUP_ID: staffGroup,
    });
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

  /** Posts a form body to /slack/events, signed as Slack signs it (or with `signature` forged). */
  async function postToSlackEvents(form: Record<string, string>, signature?: string, timestamp = Math.floor(Date.now() / 1000)) {
    const body = new URLSearchParams(form).toString();
    const signed = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
    return fetch(`${baseUrl}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature ?? signed },
      body,
    });
  }

  /** A slash command as Slack posts it; resolves with what the bot answered through response_url. */
  async function slash(user: string, command: string, text = ''): Promise<Record<string, unknown>> {
    const responseUrl = `/commands/T1/${++triggers}/reply`;
    const response = await postToSlackEvents({
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
      response_url: `https://hooks.slack.com${responseUrl}`,
      trigger_id: `${triggers}.1.abc`,
    });
    expect(response.status).toBe(200);
    return reply(responseUrl);
  }

  async function press(user: string, button: { action_id: string; value: string }): Promise<Record<string, unknown>> {
    const responseUrl = `/actions/T1/${++triggers}/reply`;
    const payload = {
      type: 'block_actions',
      user: { id: user, username: user.toLowerCase(), team_id: 'T1' },
      api_app_id: 'A1',
      token: 'legacy',
      container: { type: 'message', message_ts: '1.1', channel_id: 'C1', is_ephemeral: true },
      trigger_id: `${triggers}.2.def`,
      team: { id: 'T1', domain: 'studio' },
      channel: { id: 'C1', name: 'general' },
      response_url: `https://hooks.slack.com${responseUrl}`,
      actions: [{ ...button, type: 'button', block_id: 'b1', action_ts: '1.2', text: { type: 'plain_text', text: 'Next' } }],
    };
    expect((await postToSlackEvents({ payload: JSON.stringify(payload) })).status).toBe(200);
    return reply(responseUrl);
  }

  async function reply(responseUrl: string): Promise<Record<string, unknown>> {
    await eventually(() => posted.some((p) => p.to === responseUrl));
    return posted.find((p) => p.to === responseUrl)!.body;
  }

  const buttonsOf = (message: Record<string, unknown>) =>
    ((message.blocks as { type: string; elements?: { action_id: string; value: string }[] }[]).find((b) => b.type === 'actions')?.elements ?? []);

  it('refuses a forged or stale signature with 401, and answers nothing', async () => {
    const form = { command: '/credits', text: '', user_id: 'UFORGER', response_url: 'https://hooks.slack.com/commands/forged', trigger_id: 't' };
    expect((await postToSlackEvents(form, `v0=${'0'.repeat(64)}`)).status).toBe(401);
    expect((await postToSlackEvents(form, undefined, Math.floor(Date.now() / 1000) - 600)).status).toBe(401);
    expect(posted.filter((p) => p.to === '/commands/forged')).toEqual([]);
  });

  it('an unlinked user is told to link, ephemerally', async () => {
    const message = await slash('UNOBODY1', '/credits');
    expect(message).toMatchObject({ response_type: 'ephemeral', text: errorText.NOT_LINKED });
  });

  it('/link links the Slack account (no Discord reward) and sends the link notice as a direct message', async () => {
    await openAccount(ctx, { owner: { kind: 'USER', externalId: 'sofia' } });
    const { code } = await createLinkCode(ctx, { userExternalId: 'sofia', provider: 'SLACK' });
    expect(await slash('USOFIA01', '/link', code)).toMatchObject({ response_type: 'ephemeral', text: 'Linked to sofia.' });
    expect(await slash('USOFIA01', '/link', `code:${code}`)).toMatchObject({ text: errorText.LINK_CODE_INVALID });
    await eventually(() => posted.some((p) => p.to === 'chat.postMessage' && p.body.channel === 'USOFIA01'));
    expect(posted.find((p) => p.to === 'chat.postMessage' && p.body.channel === 'USOFIA01')!.body.text).toContain('Your Slack account is now linked to sofia');
  });

  it('/activity: Block Kit rows in the user’s Slack time zone; Next replaces the message with the next page; only the caller may page', async () => {
    const accountId = await linkedUser(ctx, 'kenji', 'SLACK', 'UTOKYO01');
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 100n });
    for (let i = 0; i < 12; i++) {
      await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 1 }, source: { kind: 'project', id: `p${i}`, label: `Project <${i}>`, url: `https://studio.example/p/${i}` } });
    }
    const first = await slash('UTOKYO01', '/activity', 'filter:used');
    expect(first.response_type).toBe('ephemeral');
    const blocks = first.blocks as { type: string; text?: { text: string }; elements?: { text: string }[] }[];
    expect(blocks[0]).toMatchObject({ type: 'header', text: { text: 'kenji — activity (used)' } });
    expect(blocks[1]!.elements![0]!.text).toBe('Showing 1–10 of 12');
    const tokyoNow = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Tokyo', dateStyle: 'medium' }).format(new Date());
    expect(blocks[2]!.text!.text).toMatch(/^\*Chat\*  -1 → 88\n/);
    expect(blocks[2]!.text!.text).toContain(tokyoNow);
    expect(blocks[2]!.text!.text).toContain('<https://studio.example/p/11|Project &lt;11&gt;>');
    const [next] = buttonsOf(first);
    expect(next).toMatchObject({ action_id: 'activity_next' });

    const refused = await press('USOMEONE', next!);
    expect(refused).toMatchObject({ replace_original: false, text: 'Only the person who ran /activity can turn its pages.' });

    const second = await press('UTOKYO01', next!);
    expect(second.replace_original).toBe(true);
    expect(((second.blocks as { elements?: { text: string }[] }[])[1]!.elements![0]!.text)).toBe('Showing 11–12 of 12');
    expect(buttonsOf(second).map((b) => b.action_id)).toEqual(['activity_previous']);
  });

  it('staff: users on the list or in the staff user group may adjust; others are refused', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'theo' } });
    expect(await slash('UNOTSTAFF', '/adjust', `account:${accountId} amount:500 reason:"I deserve it"`)).toMatchObject({ text: errorText.FORBIDDEN });
    expect((await slash(staffUser, '/adjust', `account:${accountId} amount:25 reason:“Delivery miss”`)).text).toMatch(/^Adjustment posted: \+25 — balance after 25, reason “Delivery miss”/);
    expect((await slash(groupMember, '/grant', `account:${accountId} amount:5 reason:"Goodwill"`)).text).toMatch(/^Grant posted: \+5 — balance after 30/);
    expect(await balanceOf(ctx, accountId)).toBe(30n);
  });

  it('the admin app still serves its own routes beside /slack/events', async () => {
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${baseUrl}/nowhere`)).status).toBe(404);
  });
});

describe('startChat without credentials', () => {
  const ctx = useFreshLedger('pglite');
  it('starts no transport and says how to add one, and that the console needs none', async () => {
    const { logger } = recordingLogger();
    const chat = await startChat({ ctx, logger, config: loadChatConfig({ DISCORD_TOKEN: '' }) });
    expect(chat.summary.join('\n')).toMatch(/DISCORD_TOKEN and DISCORD_APPLICATION_ID, then npm run register.*SLACK_BOT_TOKEN.*npm run chat -- --as <user>/s);
    await chat.close();
  });

  it('refuses a half configuration', () => {
    expect(() => loadChatConfig({ DISCORD_TOKEN: 'x' })).toThrow('DISCORD_APPLICATION_ID is needed with DISCORD_TOKEN');
    expect(() => loadChatConfig({ SLACK_BOT_TOKEN: 'xoxb-1' })).toThrow(/SLACK_SIGNING_SECRET is needed/);
  });
});
