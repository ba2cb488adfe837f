import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  path: string;
  /** What Webhook.verify made of it with the endpoint's secret: the event, or the error's message. */
  verified: { type: string; timestamp: string; data: Record<string, any> } | { error: string };
}

type Answer = 'ok' | 'fail' | 'hang' | 'redirect' | { slowMs: number };

/**
 * The receiving end of an endpoint on a loopback port, verifying each request with
 * standardwebhooks as a receiver would. `answer` decides each request's fate: 200, 500, no
 * answer at all, a 302 elsewhere, or 200 late. `down()` closes the port (connections are
 * refused) and `up()` opens the same port again.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  secret = '';
  answer: (request: ReceivedWebhook, earlierWithSameId: number) => Answer = () => 'ok';
  /** Requests answered at the same moment with the same webhook-id, at most (two dispatchers must keep it 1). */
  mostAtOnceForOneId = 0;
  private server: Server | undefined;
  private port = 0;
  private readonly inFlight = new Map<string, number>();
  private readonly hanging: ServerResponse[] = [];

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/creditkeeper`;
  }

  async up(): Promise<void> {
    this.server = createServer((request, response) => this.take(request, response));
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async down(): Promise<void> {
    for (const response of this.hanging.splice(0)) response.destroy();
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** The verified events, in the order they arrived (each webhook-id once: later copies are redeliveries). */
  events(): { id: string; type: string; data: Record<string, any> }[] {
    const seen = new Set<string>();
    return this.received.flatMap((r) => {
      if (seen.has(r.id) || 'error' in r.verified) return [];
      seen.add(r.id);
      return [{ id: r.id, type: r.verified.type, data: r.verified.data }];
    });
  }

  private take(request: IncomingMessage, response: ServerResponse): void {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk));
    request.on('end', () => {
      const headers = {
        'webhook-id': String(request.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
      };
      let verified: ReceivedWebhook['verified'];
      try {
        verified = new Webhook(this.secret).verify(body, headers) as Exclude<ReceivedWebhook['verified'], { error: string }>;
      } catch (error) {
        verified = { error: (error as Error).message };
      }
      const received: ReceivedWebhook = {
        id: headers['webhook-id'], timestamp: headers['webhook-timestamp'], signature: headers['webhook-signature'], body, path: request.url ?? '', verified,
      };
      const earlier = this.received.filter((r) => r.id === received.id).length;
      this.received.push(received);
      const now = (this.inFlight.get(received.id) ?? 0) + 1;
      this.inFlight.set(received.id, now);
      this.mostAtOnceForOneId = Math.max(this.mostAtOnceForOneId, now);
      const done = () => this.inFlight.set(received.id, this.inFlight.get(received.id)! - 1);
      const answer = this.answer(received, earlier);
      if (answer === 'hang') return void this.hanging.push(response);
      if (answer === 'redirect') return void response.writeHead(302, { location: `http://127.0.0.1:${this.port}/elsewhere` }).end(done);
      if (answer === 'fail') return void response.writeHead(500).end('down for maintenance', done);
      const reply = () => response.writeHead(204).end(done);
      if (answer === 'ok') reply();
      else setTimeout(reply, answer.slowMs);
    });
  }
}

/** Waits until `condition` holds, doing `step` between looks; fails after `attempts` looks. */
export async function until(condition: () => boolean | Promise<boolean>, step: () => Promise<unknown>, attempts = 500): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await condition()) return;
    await step();
  }
  throw new Error('the condition never held');
}
