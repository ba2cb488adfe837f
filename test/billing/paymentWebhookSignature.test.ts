import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentWebhook } from '../../core/billing/paymentGateway.js';
import { paymentSignatureHeader, verifyPaymentSignature } from '../../core/billing/verifyPaymentSignature.js';
import { expectError } from '../support/scenario.js';

const secret = 'a-long-shared-secret';

describe('the payment webhook signature, checked as the host product checks it', () => {
  /** What the host's webhook received, byte for byte. */
  const received: { header: string | string[] | undefined; body: string }[] = [];
  let receiver: Server;
  let url = '';

  beforeAll(async () => {
    // The host product: verify the raw body before parsing it, charge only what verifies.
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        received.push({ header: request.headers['creditkeeper-signature'], body: body.toString() });
        const check = verifyPaymentSignature({ secret, header: request.headers['creditkeeper-signature'], body });
        response.setHeader('content-type', 'application/json');
        response.statusCode = check.valid ? 200 : 401;
        response.end(JSON.stringify(check.valid ? { chargeId: `ch_${received.length}` } : { error: check.reason }));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/charge`;
  });
  afterAll(() => new Promise((resolve) => receiver.close(resolve)));

  /** One real charge of 50 credits; resolves with what the host received. */
  async function charged(idempotencyKey: string): Promise<{ header: string; body: string; t: number }> {
    expect(await paymentWebhook({ url, secret, timeoutMs: 2_000 }).charge({ accountId: 'acc-1', credits: 50n, idempotencyKey })).toMatchObject({ chargeId: expect.stringMatching(/^ch_/) });
    const { header, body } = received.at(-1)!;
    return { header: String(header), body, t: Number(/^t=(\d+),/.exec(String(header))![1]) };
  }

  it('a charge verifies as sent: t is the sending second, and v1 is HMAC-SHA256(secret, "<t>.<raw body>")', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { header, body, t } = await charged('auto-reload#k1');
    expect(t - before).toBeGreaterThanOrEqual(0);
    expect(t - before).toBeLessThanOrEqual(2);
    // Recomputed here from the documented scheme, not through the code under test.
    expect(header).toBe(`t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`);
    expect(JSON.parse(body)).toEqual({ type: 'auto_reload.charge', accountId: 'acc-1', credits: '50', idempotencyKey: 'auto-reload#k1' });
    expect(verifyPaymentSignature({ secret, header, body, nowSeconds: t })).toEqual({ valid: true, timestamp: t });
  });

  it('the same request replayed more than five minutes after (or before) its t is refused; at exactly five minutes it verifies', async () => {
    const { header, body, t } = await charged('auto-reload#k2');
    expect(verifyPaymentSignature({ secret, header, body, nowSeconds: t + 300 })).toMatchObject({ valid: true });
    expect(verifyPaymentSignature({ secret, header, body, nowSeconds: t - 300 })).toMatchObject({ valid: true });
    expect(verifyPaymentSignature({ secret, header, body, nowSeconds: t + 301 })).toEqual({ valid: false, reason: 't is 301 s from now (at most 300 s either way)' });
    expect(verifyPaymentSignature({ secret, header, body, nowSeconds: t + 86_400 })).toMatchObject({ valid: false });
    expect(verifyPaymentSignature({ secret, header, body, nowSeconds: t - 301 })).toMatchObject({ valid: false }); // signed by a clock 301 s ahead
  });

  it('a changed body, a changed t, or another secret is refused', async () => {
    const { header, body, t } = await charged('auto-reload#k3');
    const refused = { valid: false, reason: 'the signature does not match' };
    expect(verifyPaymentSignature({ secret, header, body: body.replace('"credits":"50"', '"credits":"5000"'), nowSeconds: t })).toEqual(refused);
    expect(verifyPaymentSignature({ secret, header, body: `${body} `, nowSeconds: t })).toEqual(refused);
    expect(verifyPaymentSignature({ secret, header, body: JSON.stringify(JSON.parse(body), null, 1), nowSeconds: t })).toEqual(refused); // re-serialised, not the raw body
    // A fresh t on the old signature: the timestamp is inside what is signed.
    expect(verifyPaymentSignature({ secret, header: header.replace(`t=${t},`, `t=${t + 60},`), body, nowSeconds: t })).toEqual(refused);
    expect(verifyPaymentSignature({ secret: 'another-secret', header, body, nowSeconds: t })).toEqual(refused);
  });

  it('a truncated, extended, duplicated, extra, reordered or padded header field is refused, even with a genuine v1 in it', async () => {
    const { header, body, t } = await charged('auto-reload#k4');
    const v1 = header.slice(header.indexOf('v1=') + 3);
    const malformed = { valid: false, reason: 'the header is not t=<unix seconds>,v1=<64 lowercase hex digits>' };
    for (const stretched of [
      `t=${t},v1=${v1.slice(0, 63)}`, // truncated
      `t=${t},v1=${v1.slice(0, 32)}`,
      `t=${t},v1=${v1}0`, // extended
      `t=${t},v1=${v1}${v1}`,
      `t=${t},v1=${v1},v1=${'0'.repeat(64)}`, // a second v1 (Stripe would try each; one is enough here)
      `t=${t},t=${t + 60},v1=${v1}`, // a second t
      `t=${t},v1=${v1},v0=${v1}`, // an extra field
      `v1=${v1},t=${t}`, // reordered
      `t=${t}, v1=${v1}`, // padded
      ` t=${t},v1=${v1}`,
      `t=0${t},v1=${v1}`, // the same number spelled otherwise
      `t=${t}.0,v1=${v1}`,
      `t=${t},v1=${v1.toUpperCase()}`,
      `t=${t},v1=`,
      '',
    ]) {
      expect([stretched, verifyPaymentSignature({ secret, header: stretched, body, nowSeconds: t })]).toEqual([stretched, malformed]);
    }
    expect(verifyPaymentSignature({ secret, header: [header, header], body, nowSeconds: t })).toEqual({ valid: false, reason: 'expected one Creditkeeper-Signature header' });
    expect(verifyPaymentSignature({ secret, header: undefined, body, nowSeconds: t })).toMatchObject({ valid: false });
    expect(verifyPaymentSignature({ secret: '', header, body, nowSeconds: t })).toEqual({ valid: false, reason: 'no secret is configured' });
    expect(verifyPaymentSignature({ secret, header, body, nowSeconds: t })).toMatchObject({ valid: true });
  });

  it('a header signed for another moment, correctly, verifies only within its five minutes', () => {
    const body = '{"type":"auto_reload.charge","accountId":"acc-1","credits":"50","idempotencyKey":"auto-reload#k5"}';
    const now = 1_767_225_600; // 2026-01-01T00:00:00Z
    expect(verifyPaymentSignature({ secret, header: paymentSignatureHeader(secret, now + 299, body), body, nowSeconds: now })).toMatchObject({ valid: true });
    expect(verifyPaymentSignature({ secret, header: paymentSignatureHeader(secret, now + 400, body), body, nowSeconds: now })).toMatchObject({ valid: false });
    expect(verifyPaymentSignature({ secret, header: paymentSignatureHeader(secret, now - 400, body), body, nowSeconds: now })).toMatchObject({ valid: false });
  });

  it('a host that refuses the signature (a different secret) declines the charge: PAYMENT_FAILED, nothing charged', async () => {
    const failed = await expectError(paymentWebhook({ url, secret: 'stale-secret', timeoutMs: 2_000 }).charge({ accountId: 'acc-1', credits: 50n, idempotencyKey: 'auto-reload#k6' }), 'PAYMENT_FAILED');
    expect(failed.details).toEqual({ reason: 'declined', status: 401 });
  });
});
