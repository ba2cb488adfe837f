import { createHmac, timingSafeEqual } from 'node:crypto';
import express from 'express';
import type { Logger } from '../../core/logger.js';

/** How far a request's timestamp may be from now, in either direction (Slack's five minutes). */
export const slackTimestampToleranceSeconds = 5 * 60;

/** What Bolt's receiver reads instead of the stream once the body was read here. */
type WithRawBody = express.Request & { rawBody?: Buffer };

/**
 * Slack's signature, checked before Bolt with the timestamp within five minutes either way: Bolt refuses only
 * old ones, so a request signed for tomorrow would be replayable until then (README, Signature schemes).
 */
export function verifySlackRequest(signingSecret: string, logger: Logger): express.RequestHandler[] {
  // Bolt's limit; no inflating, since Slack signs the bytes as sent.
  const readBody = express.raw({ type: () => true, limit: '4mb', inflate: false });
  const check: express.RequestHandler = (req: WithRawBody, res, next) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const refusal = whyRefused(signingSecret, req.headers['x-slack-request-timestamp'], req.headers['x-slack-signature'], body);
    if (refusal) {
      logger.warn({ transport: 'slack', reason: refusal }, 'Slack request refused');
      res.status(401).end();
      return;
    }
    req.rawBody = body;
    next();
  };
  return [readBody, check];
}

function whyRefused(signingSecret: string, timestamp: unknown, signature: unknown, body: Buffer): string | null {
  if (!signingSecret) return 'no signing secret is configured';
  // One header each, digits only: the signed text holds the timestamp exactly as sent.
  if (typeof timestamp !== 'string' || !/^[0-9]{1,15}$/.test(timestamp)) return 'X-Slack-Request-Timestamp is missing or not a number of seconds';
  const skew = Math.abs(Math.floor(Date.now() / 1000) - Number(timestamp));
  if (skew > slackTimestampToleranceSeconds) return `the timestamp is ${skew} s from now (at most ${slackTimestampToleranceSeconds} s either way)`;
  if (typeof signature !== 'string' || !/^v0=[0-9a-f]{64}$/.test(signature)) return 'X-Slack-Signature is missing or not v0=<64 hex digits>';
  const expected = createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(body).digest();
  if (!timingSafeEqual(expected, Buffer.from(signature.slice(3), 'hex'))) return 'the signature does not match';
  return null;
}
