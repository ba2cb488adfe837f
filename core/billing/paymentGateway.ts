import { z } from 'zod';
import { CreditkeeperError } from '../errors.js';
import { paymentSignatureHeader } from './verifyPaymentSignature.js';

/** What auto-reload asks of the host product's billing: charge the card on file, once per key. */
export interface PaymentGateway {
  /**
   * Charges for `credits`. The same `idempotencyKey` must never charge twice (the webhook's
   * contract, as with Stripe's Idempotency-Key): a retry after a timeout gets the first charge.
   */
  charge(request: { accountId: string; credits: bigint; idempotencyKey: string }): Promise<{ chargeId: string }>;
  /** How long a charge waits for its answer: an attempt older than that was abandoned (the settler's cue). */
  timeoutMs?: number;
}

const chargeResponse = z.object({ chargeId: z.string().min(1).max(200) });

/**
 * The payment webhook: a signed JSON POST to the host (verifyPaymentSignature.ts); only a 2xx with a chargeId
 * within the timeout is a charge.
 */
export function paymentWebhook(options: { url: string; secret: string; timeoutMs: number }): PaymentGateway {
  return {
    timeoutMs: options.timeoutMs,
    async charge({ accountId, credits, idempotencyKey }) {
      const body = JSON.stringify({ type: 'auto_reload.charge', accountId, credits: credits.toString(), idempotencyKey });
      const signature = paymentSignatureHeader(options.secret, Math.floor(Date.now() / 1000), body);
      let response: Response;
      try {
        response = await fetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey, 'creditkeeper-signature': signature },
          body,
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch (error) {
        const timedOut = (error as Error).name === 'TimeoutError';
        throw new CreditkeeperError('PAYMENT_FAILED', timedOut ? `The payment webhook did not answer within ${options.timeoutMs} ms` : 'The payment webhook could not be reached', {
          reason: timedOut ? 'timeout' : 'unreachable',
        });
      }
      const parsed = response.ok ? chargeResponse.safeParse(await response.json().catch(() => null)) : null;
      if (!parsed?.success) {
        throw new CreditkeeperError('PAYMENT_FAILED', `The payment webhook declined the charge (HTTP ${response.status})`, { reason: 'declined', status: response.status });
      }
      return parsed.data;
    },
  };
}
