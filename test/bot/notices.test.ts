import { discordApi, eventually, linkedUser, offline, offlineClientOptions, recordingLogger, snowflake } from './chatTransportSupport.js';
import { describe, expect, it } from 'vitest';
import { createDiscordBot } from '../../bot/discord/discordBot.js';
import { ChatNotifier, type DirectMessageSender } from '../../bot/notices/chatNotifier.js';
import type { CoreContext } from '../../core/context.js';
import { writeGrant } from '../../core/ledger/grant.js';
import { spend } from '../../core/ledger/spend.js';
import { unrestricted } from '../../core/access/accountReach.js';
import { setBalanceThresholds } from '../../core/thresholds/setBalanceThresholds.js';
import { key, service, useFreshLedger } from '../support/scenario.js';

/** Discord's direct-message API: opening the DM channel, then posting to it (answered with `status`). */
function discordDirectMessages(status: number) {
  const messages: { channel: string; content: string }[] = [];
  let attempts = 0;
  discordApi
    .route('POST', '/api/v10/users/@me/channels', async (request) => {
      const { recipient_id } = (await request.json()) as { recipient_id: string };
      return [200, { id: `9${recipient_id.slice(1)}`, type: 1, recipients: [{ id: recipient_id, username: 'someone', discriminator: '0', avatar: null }] }];
    })
    .route('POST', /^\/api\/v10\/channels\/\d+\/messages$/, async (request) => {
      attempts++;
      if (status !== 200) return [status, { message: 'Internal Server Error', code: 0 }];
      const channel = new URL(request.url).pathname.split('/')[4]!;
      const { content } = (await request.json()) as { content: string };
      messages.push({ channel, content });
      return [200, { id: snowflake(), channel_id: channel, content, author: { id: '1', username: 'bot', discriminator: '0', avatar: null, bot: true }, timestamp: new Date().toISOString(), embeds: [], attachments: [], mentions: [], mention_roles: [], pinned: false, tts: false, type: 0 }];
    });
  return { messages, attempts: () => attempts };
}

describe('chat notices', () => {
  const ledger = useFreshLedger('pglite');
  offline();
  const { logger, lines } = recordingLogger();
  const discord = createDiscordBot({ ctx: ledger, logger, token: 'test-token', clientOptions: offlineClientOptions });

  /** The ledger as the running process has it: every write told to the notifier. */
  function notifying(send: DirectMessageSender, attempts = 3): { ctx: CoreContext; notifier: ChatNotifier } {
    const notifier = new ChatNotifier(ledger, logger, { senders: { DISCORD: send }, lowBalanceThreshold: 10n, attempts, firstRetryDelayMs: 5 });
    return { ctx: { ...ledger, observer: notifier.observer }, notifier };
  }

  it('a reward and the balance falling below the threshold are sent as Discord DMs; the low balance only once', async () => {
    const discordId = snowflake();
    const accountId = await linkedUser(ledger, `rewarded-${discordId}`, 'DISCORD', discordId);
    const dms = discordDirectMessages(200);
    const { ctx, notifier } = notifying(discord.sendDirectMessage);
    await writeGrant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'AD_REWARD', bucket: 'REWARD', amount: 8n, description: 'Ad reward' });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 4 } });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 1 } });
    await notifier.idle();
    expect(dms.messages).toEqual([
      { channel: `9${discordId.slice(1)}`, content: 'You got +8 credits: Ad reward. Your balance is now 13.' },
      { channel: `9${discordId.slice(1)}`, content: 'Your balance is low: 9 credits left. Top up to keep going.' },
    ]);
  });

  it("an account's own alert levels replace the default one: at 50 and 20, a fall from 60 to 40 tells, 40 to 30 does not, 30 to 15 does", async () => {
    const discordId = snowflake();
    const accountId = await linkedUser(ledger, `levels-${discordId}`, 'DISCORD', discordId);
    await setBalanceThresholds(ledger, { target: { accountId }, levels: [{ amount: 50n }, { amount: 20n }] }, unrestricted);
    const dms = discordDirectMessages(200);
    const { ctx, notifier } = notifying(discord.sendDirectMessage);
    await writeGrant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 55n });
    for (const quantity of [20, 10, 15, 6]) await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity } });
    await notifier.idle();
    // 60 → 40 (below 50), 40 → 30, 30 → 15 (below 20), 15 → 9 (the default 10 does not apply here).
    expect(dms.messages.map((m) => m.content)).toEqual([
      'Your balance is low: 40 credits left. Top up to keep going.',
      'Your balance is low: 15 credits left. Top up to keep going.',
    ]);
  });

  it('a failing DM is retried with backoff, then given up after the last attempt; the write never waits or fails', async () => {
    const discordId = snowflake();
    const accountId = await linkedUser(ledger, `unlucky-${discordId}`, 'DISCORD', discordId);
    const dms = discordDirectMessages(500);
    const { ctx, notifier } = notifying(discord.sendDirectMessage, 3);
    const result = await writeGrant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'AD_REWARD', bucket: 'REWARD', amount: 2n });
    expect(result.balance).toBe(7n);
    await notifier.idle();
    expect(dms.attempts()).toBe(3);
    const tries = lines.filter((l) => l.to === discordId);
    expect(tries.map((l) => [l.msg, l.attempt])).toEqual([
      ['chat notice failed; will retry', 1],
      ['chat notice failed; will retry', 2],
      ['chat notice given up', 3],
    ]);
  });

  it('the ledger write returns before the notice is sent', async () => {
    const discordId = snowflake();
    const accountId = await linkedUser(ledger, `patient-${discordId}`, 'DISCORD', discordId);
    let release!: () => void;
    const sent: string[] = [];
    const slowSender: DirectMessageSender = (_to, text) =>
      new Promise((resolve) => {
        release = () => {
          sent.push(text);
          resolve();
        };
      });
    const { ctx, notifier } = notifying(slowSender);
    await writeGrant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'AD_REWARD', bucket: 'REWARD', amount: 2n });
    expect(sent).toEqual([]);
    await eventually(() => release !== undefined);
    release();
    await notifier.idle();
    expect(sent).toEqual(['You got +2 credits: Ad reward. Your balance is now 7.']);
  });
});
