import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { isCreditkeeperError } from '../errors.js';
import { hostOf, parseWebhookUrl, resolveWebhookAddress } from './webhookAddress.js';
import type { WebhookSettings } from './webhookSettings.js';

export interface WebhookMessage {
  /** The event's id: the same on every attempt, so a receiver can drop a repeat. */
  id: string;
  type: string;
  occurredAt: Date;
  data: unknown;
}

export interface AttemptOutcome {
  delivered: boolean;
  statusCode: number | null;
  error: string | null;
}

/** The body every attempt of one event carries, byte for byte. */
export function webhookBody(message: WebhookMessage): string {
  return JSON.stringify({ type: message.type, timestamp: message.occurredAt.toISOString(), data: message.data });
}

/**
 * One Standard Webhooks attempt to the address just checked (no second DNS lookup), no redirects, bounded in
 * time and size; only a 2xx is delivered.
 */
export async function sendWebhook(endpoint: { url: string; secret: string }, message: WebhookMessage, settings: WebhookSettings): Promise<AttemptOutcome> {
  // The time limit covers the DNS lookup too, so an attempt never outlives its lease.
  const deadline = Date.now() + settings.WEBHOOK_TIMEOUT_MS;
  const timedOut: AttemptOutcome = { delivered: false, statusCode: null, error: `no answer within ${settings.WEBHOOK_TIMEOUT_MS} ms` };
  let target: { address: string; family: 4 | 6 };
  const url = parseWebhookUrl(endpoint.url);
  let lookupTimer: NodeJS.Timeout | undefined;
  try {
    const resolved = await Promise.race([
      resolveWebhookAddress(url, settings.allowedNetworks),
      new Promise<undefined>((resolve) => (lookupTimer = setTimeout(() => resolve(undefined), settings.WEBHOOK_TIMEOUT_MS))),
    ]);
    if (!resolved) return timedOut;
    target = resolved;
  } catch (error) {
    if (!isCreditkeeperError(error)) throw error;
    return { delivered: false, statusCode: null, error: error.message };
  } finally {
    clearTimeout(lookupTimer);
  }
  const body = webhookBody(message);
  const sentAt = new Date();
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': 'Creditkeeper-Webhooks/1',
    'webhook-id': message.id,
    'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
    'webhook-signature': new Webhook(endpoint.secret).sign(message.id, sentAt, body),
    host: url.host,
  };
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<AttemptOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    const req = request(
      {
        method: 'POST',
        host: target.address,
        family: target.family,
        port: url.port || (url.protocol === 'https:' ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        headers,
        // TLS checks the certificate against the name, not the address connected to.
        ...(url.protocol === 'https:' && isIP(target.address) && !isIP(hostOf(url)) && { servername: hostOf(url) }),
        agent: false,
      },
      (res) => {
        const statusCode = res.statusCode ?? 0;
        let read = 0;
        const done = () =>
          finish(
            statusCode >= 200 && statusCode < 300
              ? { delivered: true, statusCode, error: null }
              : { delivered: false, statusCode, error: statusCode >= 300 && statusCode < 400 ? `redirect to ${res.headers.location ?? '?'} not followed` : `HTTP ${statusCode}` },
          );
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read >= settings.WEBHOOK_MAX_RESPONSE_BYTES) done(); // the status is all that counts; the rest is not read
        });
        res.on('end', done);
        res.on('error', (error) => finish({ delivered: false, statusCode, error: error.message }));
      },
    );
    const timer = setTimeout(() => finish(timedOut), Math.max(0, deadline - Date.now()));
    req.on('error', (error) => finish({ delivered: false, statusCode: null, error: error.message }));
    req.end(body);
  });
}
