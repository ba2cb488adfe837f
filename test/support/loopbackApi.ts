import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A route's answer: the status and the body (JSON, unless a string). */
export type Answer = [status: number, body?: unknown];

interface Route {
  method: string;
  path: string | RegExp;
  answer: (request: Request) => Answer | Promise<Answer>;
}

/**
 * A third party's HTTP API (Discord, Slack, an ad network's keys, a payment host) as a real
 * server on a loopback port, pointed at through the base URL the code under test is given. The
 * test routes requests by method and path (a string is the whole path, a pattern tests it) to
 * answers that read a WHATWG Request (an answer that throws is a 500); a request no route
 * takes is answered 404 and kept in `unrouted`. Never holds the process open.
 */
export class LoopbackApi {
  /** Every request that arrived, as `METHOD /path`, in order. */
  readonly requests: string[] = [];
  /** The requests no route took. */
  readonly unrouted: string[] = [];
  private routes: Route[] = [];

  private constructor(
    private readonly server: Server,
    /** `http://127.0.0.1:<port>`, no trailing slash. */
    readonly url: string,
  ) {}

  static async start(): Promise<LoopbackApi> {
    // Idle connections are the client's to close: a server closing them races the client's next request on them (ECONNRESET).
    const server = createServer({ keepAliveTimeout: 0 });
    server.on('connection', (socket) => socket.unref());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    server.unref();
    const api = new LoopbackApi(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (incoming: IncomingMessage, response: ServerResponse) => void api.take(incoming, response));
    return api;
  }

  /** Answers `method` requests to `path` (later routes first, so a test can override a describe's). */
  route(method: string, path: string | RegExp, answer: Route['answer']): this {
    this.routes.unshift({ method, path, answer });
    return this;
  }

  /** Forgets the routes and the requests seen. */
  reset(): void {
    this.routes = [];
    this.requests.length = 0;
    this.unrouted.length = 0;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async take(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const method = incoming.method ?? 'GET';
    const url = new URL(incoming.url ?? '/', this.url);
    const seen = `${method} ${url.pathname}`;
    this.requests.push(seen);
    const route = this.routes.find((r) => r.method === method && (typeof r.path === 'string' ? r.path === url.pathname : r.path.test(url.pathname)));
    if (!route) {
      this.unrouted.push(seen);
      return void response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no route for ${seen}` }));
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(incoming.headers)) for (const one of [value ?? []].flat()) headers.append(name, one);
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    const [status, answer] = await Promise.resolve(route.answer(new Request(url, { method, headers, body }))).catch((error: unknown): Answer => [500, { error: String(error) }]);
    if (response.destroyed) return; // the caller gave up waiting
    if (answer === undefined || status === 204) return void response.writeHead(status).end();
    const text = typeof answer === 'string';
    response.writeHead(status, { 'content-type': text ? 'text/plain' : 'application/json' }).end(text ? answer : JSON.stringify(answer));
  }
}
