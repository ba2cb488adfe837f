import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far a webhook's `t` may be from the receiver's clock, in either direction. */
export const paymentSignatureToleranceSeconds = 5 * 60;

/**
 * `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: the timestamp is signed, so it cannot
 * be changed, and being digits the first "." after it starts the body.
 */
export function paymentSignatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${paymentDigest(secret, String(timestamp), Buffer.from(body)).toString('hex')}`;
}

export type PaymentSignatureCheck = { valid: true; timestamp: number } | { valid: false; reason: string };

/** Exactly the two fields, in this order, as sent: a duplicated, extra, reordered or padded field is refused. */
const headerFormat = /^t=([1-9][0-9]{0,14}),v1=([0-9a-f]{64})$/;

/**
 * The receiver's check (README, Signature schemes): HMAC over the raw body in constant time, and `t` within five
 * minutes so a captured request cannot be replayed later.
 */
export function verifyPaymentSignature(request: {
  secret: string;
  header: string | string[] | undefined;
  body: string | Buffer;
  nowSeconds?: number;
}): PaymentSignatureCheck {
  if (!request.secret) return { valid: false, reason: 'no secret is configured' };
  if (typeof request.header !== 'string') return { valid: false, reason: 'expected one Creditkeeper-Signature header' };
  const fields = headerFormat.exec(request.header);
  if (!fields) return { valid: false, reason: 'the header is not t=<unix seconds>,v1=<64 lowercase hex digits>' };
  const sentAt = fields[1]!;
  const digest = fields[2]!;
  const timestamp = Number(sentAt);
  const skew = Math.abs((request.nowSeconds ?? Math.floor(Date.now() / 1000)) - timestamp);
  if (skew > paymentSignatureToleranceSeconds) return { valid: false, reason: `t is ${skew} s from now (at most ${paymentSignatureToleranceSeconds} s either way)` };
  const body = typeof request.body === 'string' ? Buffer.from(request.body) : request.body;
  if (!timingSafeEqual(paymentDigest(request.secret, sentAt, body), Buffer.from(digest, 'hex'))) return { valid: false, reason: 'the signature does not match' };
  return { valid: true, timestamp };
}

function paymentDigest(secret: string, timestamp: string, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}
