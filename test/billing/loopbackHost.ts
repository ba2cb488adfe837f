import { createServer, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { paymentWebhook } from '../../core/billing/paymentGateway.js';

/**
 * The host product's billing on a loopback port, honouring Idempotency-Key as Stripe does: the
 * first request under a key that charges makes the one charge, every later one answers with it.
 * `answer` picks what happens to each request, given how many came under its key before it:
 * charge (and answer), charge and answer late, decline, charge and never answer, or never answer
 * without charging.
 */
export class LoopbackHost {
  /** Charge ids by idempotency key: one per card charge made. */
  readonly charges = new Map<string, string>();
  /** The idempotency key of every request received, in order. */
  readonly requests: string[] = [];
  answer: (idempotencyKey: string, earlierRequests: number) => 'charge' | 'charge late' | 'decline' | 'charge and hang' | 'hang' = () => 'charge';
  /** Runs once a card is charged, and is waited for before the answer: a crash of the caller, another write meanwhile. */
  onCharged: (idempotencyKey: string) => unknown = () => {};
  private server: Server | undefined;
  private readonly hanging: ServerResponse[] = [];
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk));
      request.on('end', () => {
        const { idempotencyKey } = JSON.parse(body) as { idempotencyKey: string };
        const answer = this.answer(idempotencyKey, this.requestsFor(idempotencyKey));
        this.requests.push(idempotencyKey);
        if (answer === 'decline') return void response.writeHead(402).end(JSON.stringify({ error: 'card_declined' }));
        if (answer === 'hang') return void this.hanging.push(response);
        let charging: unknown;
        if (!this.charges.has(idempotencyKey)) {
          this.charges.set(idempotencyKey, `ch_${this.charges.size + 1}`);
          charging = this.onCharged(idempotencyKey);
        }
        if (answer === 'charge and hang') return void this.hanging.push(response);
        const reply = () => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ chargeId: this.charges.get(idempotencyKey) }));
        // A few milliseconds of "talking to the bank", so concurrent spends overlap their charges.
        void Promise.resolve(charging).then(() => setTimeout(reply, answer === 'charge late' ? 600 : 5));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/charge`;
  }

  gateway(timeoutMs = 5_000) {
    return paymentWebhook({ url: this.url, secret: 'a-long-shared-secret', timeoutMs });
  }

  /** Cards charged for an account's auto-reloads. */
  chargesFor(accountId: string): number {
    return [...this.charges.keys()].filter((k) => k.startsWith(`auto-reload#${accountId}:`)).length;
  }

  requestsFor(idempotencyKey: string): number {
    return this.requests.filter((k) => k === idempotencyKey).length;
  }

  close(): void {
    this.server?.closeAllConnections();
    this.server?.close();
  }
}
