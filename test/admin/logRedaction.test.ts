import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../admin/app.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import { createLoginLink } from '../../core/access/createLoginLink.js';
import { createLogger } from '../../core/logger.js';
import { adVerifierKeys } from '../../core/rewards/adVerifierKeys.js';
import { client } from '../support/api.js';
import { LoopbackApi } from '../support/loopbackApi.js';
import { useFreshLedger } from '../support/scenario.js';

/**
 * Everything a full scenario logs at trace level — API writes with a token, admin sign-in with a
 * token and with a one-time link, the ad callback, signed webhooks, bot options — and not one
 * of the secrets it used appears anywhere in the log.
 */
describe('secrets never reach the log (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const log: string[] = [];
  const logger = createLogger('trace', { write: (line: string) => void log.push(line) });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let base = '';
  let close = () => {};
  // The ad network's published keys, on a loopback server of its own.
  let keysHost: LoopbackApi;
  beforeAll(async () => {
    keysHost = await LoopbackApi.start();
    keysHost.route('GET', '/keys.json', () => [200, { keys: [{ keyId: 7, pem: publicKey.export({ type: 'spki', format: 'pem' }) }] }]);
    ctx.adKeys = adVerifierKeys(`${keysHost.url}/keys.json`);
    const server = createApp(ctx, logger).listen(0);
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(async () => {
    close();
    await keysHost.close();
  });

  it('redacts tokens, cookies, sign-in link secrets, signatures and bot tokens', async () => {
    const actor = { kind: 'STAFF', id: 'setup' } as const;
    const serviceToken = (await createApiToken(ctx, { name: 'host-product', scopes: ['SERVICE', 'READ'], actor })).secret;
    const adminToken = (await createApiToken(ctx, { name: 'ana@support', scopes: ['ADMIN'], actor })).secret;
    const secrets: Record<string, string> = { serviceToken, adminToken };

    // The host product's writes and reads.
    const call = client(base, serviceToken);
    const accountId = (await call('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'USER', externalId: 'tia' } } })).body.accountId as string;
    expect((await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), body: { amount: 50 } })).status).toBe(201);
    expect((await call('GET', `/v1/accounts/${accountId}/balance`)).status).toBe(200);

    // Admin sign-in with a token, then a page with the session cookie.
    const signedIn = await fetch(`${base}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: adminToken }).toString(),
      redirect: 'manual',
    });
    expect(signedIn.status).toBe(303);
    secrets.sessionCookie = /ck_admin=([^;]+)/.exec(signedIn.headers.get('set-cookie') ?? '')![1]!;
    expect((await fetch(`${base}/admin`, { headers: { cookie: `ck_admin=${secrets.sessionCookie}` } })).status).toBe(200);

    // A one-time link: its secret is in the URL of the GET and in the form of the POST.
    const link = await createLoginLink(ctx, { staffId: 'lee@support' });
    secrets.loginLink = link.secret;
    expect((await fetch(`${base}/admin/login/${link.secret}`)).status).toBe(200);
    const linked = await fetch(`${base}/admin/login/link`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ secret: link.secret }).toString(),
      redirect: 'manual',
    });
    expect(linked.status).toBe(303);
    secrets.linkSessionCookie = /ck_admin=([^;]+)/.exec(linked.headers.get('set-cookie') ?? '')![1]!;

    // The ad network's callback carries its signature in the query.
    const fields = `ad_network=1&ad_unit=9&reward_amount=1&reward_item=coins&timestamp=${Date.now()}&transaction_id=t-${randomUUID()}&user_id=tia`;
    secrets.adSignature = sign('sha256', Buffer.from(fields), { key: privateKey, dsaEncoding: 'der' }).toString('base64url');
    expect((await fetch(`${base}/v1/public/ad-rewards?${fields}&signature=${secrets.adSignature}&key_id=7`)).status).toBe(200);
    expect(keysHost.requests).toEqual(['GET /keys.json']); // the keys were fetched once

    // Signed webhooks: Slack's, and the payment webhook's signature headers.
    secrets.slackSignature = `v0=${randomBytes(32).toString('hex')}`;
    secrets.creditkeeperSignature = `t=1700000000,v1=${randomBytes(32).toString('hex')}`;
    secrets.webhookSignature = `v1,${randomBytes(32).toString('base64')}`;
    await fetch(`${base}/healthz`, {
      headers: { 'x-slack-signature': secrets.slackSignature, 'creditkeeper-signature': secrets.creditkeeperSignature, 'webhook-signature': secrets.webhookSignature },
    });

    // Bot tokens and the webhook secret, in logged options and in an error's message.
    secrets.slackBotToken = `xoxb-${randomBytes(6).toString('hex')}-${randomBytes(12).toString('hex')}`;
    secrets.slackAppToken = `xapp-1-${randomBytes(16).toString('hex')}`;
    secrets.slackSigningSecret = randomBytes(16).toString('hex');
    secrets.discordToken = `MT${randomBytes(18).toString('base64url').slice(0, 24)}.${randomBytes(6).toString('base64url').slice(0, 6)}.${randomBytes(30).toString('base64url').slice(0, 38)}`;
    secrets.paymentWebhookSecret = randomBytes(20).toString('hex');
    logger.info({ slack: { botToken: secrets.slackBotToken, appToken: secrets.slackAppToken, signingSecret: secrets.slackSigningSecret } }, 'starting Slack');
    logger.info({ discord: { token: secrets.discordToken } }, 'starting Discord');
    logger.info({ PAYMENT_WEBHOOK_SECRET: secrets.paymentWebhookSecret, SLACK_BOT_TOKEN: secrets.slackBotToken, DISCORD_TOKEN: secrets.discordToken }, 'configuration');
    logger.error({ err: new Error(`An invalid token was provided: ${secrets.discordToken} / ${secrets.slackBotToken}`) }, 'chat transport failed');
    logger.warn(`could not call the API with Authorization: Bearer ${serviceToken}`);

    const text = log.join('');
    // The log did record those requests, with what they say apart from the secrets.
    expect(text).toContain('/v1/public/ad-rewards?ad_network=1');
    expect(text).toContain('&signature=[Redacted]&key_id=7');
    expect(text).toContain('/admin/login/[Redacted]');
    expect(text).toContain('"authorization":"[Redacted]"');
    expect(text).toContain('"set-cookie":"[Redacted]"');
    // A request's line keeps its status, not the security headers every answer carries alike.
    expect(text).toContain('"res":{"statusCode":303');
    expect(text).not.toContain('content-security-policy');
    for (const [name, secret] of Object.entries(secrets)) expect(text.includes(secret), `${name} is in the log`).toBe(false);
  });
});
