import { eventually, linkedUser, offline, recordingLogger, seedTwelveChats, slackButtonPress, slackOnAdminApp, slackResponsePath, slackSlashCommand } from './chatTransportSupport.js';
import { describe, expect, it } from 'vitest';
import { openAccount } from '../../core/accounts/openAccount.js';
import { createLinkCode } from '../../core/identity/createLinkCode.js';
import { loadChatConfig } from '../../bot/chatConfig.js';
import { errorText } from '../../bot/errorText.js';
import { ChatNotifier } from '../../bot/notices/chatNotifier.js';
import { startChat } from '../../bot/startChat.js';
import { balanceOf, useFreshLedger } from '../support/scenario.js';

const staffUser = 'UADMIN01';
const staffGroup = 'S0STAFF';
const groupMember = 'UGROUP01';

describe('the Slack bot, mounted on the admin app', () => {
  const ctx = useFreshLedger('pglite');
  offline();
  const { logger } = recordingLogger();
  const slack = slackOnAdminApp(
    ctx,
    logger,
    { SLACK_STAFF_USER_IDS: `${staffUser}, UOTHER`, SLACK_STAFF_USERGROUP_ID: staffGroup },
    { timeZones: { UTOKYO01: 'Asia/Tokyo' }, groupMembers: [groupMember] },
  );
  const { posted } = slack;
  /** A slash command as Slack posts it; resolves with what the bot answered through response_url. */
  const slash = (user: string, command: string, text = '') => slack.answer(slackSlashCommand(user, command, text));
  /** A press on a button of the caller's ephemeral reply; resolves with what the bot answered through its response_url. */
  const press = (user: string, button: { action_id: string; value: string }) => slack.answer(slackButtonPress(user, button));

  const buttonsOf = (message: Record<string, unknown>) =>
    ((message.blocks as { type: string; elements?: { action_id: string; value: string }[] }[]).find((b) => b.type === 'actions')?.elements ?? []);

  it('refuses a forged or stale signature with 401, and answers nothing', async () => {
    const form = { command: '/credits', text: '', user_id: 'UFORGER', response_url: 'https://hooks.slack.com/commands/forged', trigger_id: 't' };
    expect((await slack.post(form, { signature: `v0=${'0'.repeat(64)}` })).status).toBe(401);
    expect((await slack.post(form, { timestamp: Math.floor(Date.now() / 1000) - 600 })).status).toBe(401);
    expect(posted.filter((p) => p.to === '/commands/forged')).toEqual([]);
  });

  it('a correctly signed request is answered within five minutes of now either way (±299 s), and refused with the same 401 beyond (-301 s, ±400 s, ±1 day)', async () => {
    // Stamped at each request: the server's clock reads the same second or a later one.
    const now = () => Math.floor(Date.now() / 1000);
    for (const offset of [-299, 0, 299]) {
      const form = slackSlashCommand('UNOBODY1', '/credits');
      expect([offset, (await slack.post(form, { timestamp: now() + offset })).status]).toEqual([offset, 200]);
      expect(await slack.repliesTo(form)).toMatchObject([{ text: errorText.NOT_LINKED }]);
    }
    const refused: Record<string, string>[] = [];
    for (const offset of [-301, -400, 400, 86_400, -86_400]) {
      const form = slackSlashCommand('UNOBODY1', '/credits');
      const response = await slack.post(form, { timestamp: now() + offset });
      refused.push(form);
      expect([offset, response.status, await response.text()]).toEqual([offset, 401, '']);
    }
    const forged = await slack.post(slackSlashCommand('UNOBODY1', '/credits'), { signature: `v0=${'0'.repeat(64)}` });
    expect([forged.status, await forged.text()]).toEqual([401, '']); // the same answer as a bad signature
    expect(posted.filter((p) => refused.some((form) => p.to === slackResponsePath(form)))).toEqual([]);
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
    await seedTwelveChats(ctx, accountId, (i) => ({ label: `Project <${i}>`, url: `https://studio.example/p/${i}` }));
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
    expect((await fetch(`${slack.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${slack.baseUrl}/nowhere`)).status).toBe(404);
  });
});

describe('startChat without credentials', () => {
  const ctx = useFreshLedger('pglite');
  it('starts no transport and says how to add one, and that the console needs none', async () => {
    const { logger } = recordingLogger();
    const config = loadChatConfig({ DISCORD_TOKEN: '' });
    const chat = await startChat({ ctx, logger, config, notifier: new ChatNotifier(ctx, logger, { lowBalanceThreshold: config.LOW_BALANCE_THRESHOLD }) });
    expect(chat.summary.join('\n')).toMatch(/DISCORD_TOKEN and DISCORD_APPLICATION_ID, then npm run register.*SLACK_BOT_TOKEN.*npm run chat -- --as <user>/s);
    await chat.close();
  });

  it('refuses a half configuration', () => {
    expect(() => loadChatConfig({ DISCORD_TOKEN: 'x' })).toThrow('DISCORD_APPLICATION_ID is needed with DISCORD_TOKEN');
    expect(() => loadChatConfig({ SLACK_BOT_TOKEN: 'xoxb-1' })).toThrow(/SLACK_SIGNING_SECRET is needed/);
  });
});
