import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { pino } from 'pino';
import type { z } from 'zod';
import { apiRoutes, createApp } from '../../admin/app.js';
import { observeWrites } from '../../cli/wireProcess.js';
import { csvText, ErrorBody } from '../../admin/responses.js';
import { creditkeeperClient, type CreditkeeperClient } from '../../client/index.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import type { CoreContext } from '../../core/context.js';

export interface ApiReply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/**
 * A raw client for the API under test, for requests the typed client cannot make (malformed on
 * purpose): JSON in, JSON (or text) out. Its replies are checked against the document too.
 */
export function client(baseUrl: string, token?: string) {
  return async (
    method: string,
    path: string,
    options: { body?: unknown; raw?: string; key?: string; headers?: Record<string, string> } = {},
  ): Promise<ApiReply> => {
    const headers: Record<string, string> = { ...options.headers };
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.key) headers['idempotency-key'] = options.key;
    if (options.body !== undefined || options.raw !== undefined) headers['content-type'] ??= 'application/json';
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      ...(options.raw !== undefined ? { body: options.raw } : options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await response.text();
    checkReply(method, response.url, response, text);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, headers: response.headers, body, text };
  };
}

/** The generated client (client/), as a host product would use it; every reply is checked against its schema. */
export function typedClient(baseUrl: string, token?: string): CreditkeeperClient {
  const typed = creditkeeperClient({ baseUrl, ...(token && { token }) });
  typed.use({
    onResponse: async ({ request, response }) => {
      checkReply(request.method, request.url, response, await response.clone().text());
    },
  });
  return typed;
}

/** The Idempotency-Key header of a write, as the typed client takes it. */
export function key(idempotencyKey: string = randomUUID()): { 'Idempotency-Key': string } {
  return { 'Idempotency-Key': idempotencyKey };
}

/** A typed reply's body, or a thrown error saying what came back instead. */
export function dataOf<T>(reply: { data?: T; error?: unknown; response: Response }): T {
  if (reply.data === undefined) throw new Error(`${reply.response.status}: ${JSON.stringify(reply.error)}`);
  return reply.data;
}

/** A typed reply's status and error code: what a refusal is checked by. */
export function refusal(reply: { error?: { error: { code: string } }; response: Response }): [number, string | undefined] {
  return [reply.response.status, reply.error?.error.code];
}

const routePatterns = apiRoutes.map((r) => ({
  route: r,
  pattern: new RegExp(`^${r.path.replace(/[.]/g, '\\.').replace(/:\w+/g, '[^/]+')}$`),
}));

/**
 * What the document says a reply is, checked: the route's response schema for its success status,
 * the Error schema for every failure of /v1. The schemas are strict, so a reply with a field the
 * document does not describe, or without one it promises, throws and fails the test.
 */
export function checkReply(method: string, url: string, response: Pick<Response, 'status' | 'headers'>, text: string): void {
  const path = new URL(url).pathname;
  if (!path.startsWith('/v1/') || method.toUpperCase() === 'HEAD') return;
  const route = routePatterns.find((p) => p.route.method === method.toLowerCase() && p.pattern.test(path))?.route;
  const described = (schema: z.ZodType, what: string) => {
    const parsed = schema.safeParse(jsonOrText(text));
    if (!parsed.success) throw new Error(`${method} ${path} ${response.status}: the reply is not the ${what} the document describes: ${JSON.stringify(parsed.error.issues)}\n${text.slice(0, 2000)}`);
  };
  if (response.status >= 400) return described(ErrorBody, 'Error');
  if (!route) return;
  const expected = route.status ?? 200;
  if (response.status !== expected) throw new Error(`${method} ${path}: ${response.status}, where the document says ${expected}`);
  if (route.response === csvText) {
    if (!response.headers.get('content-type')?.startsWith('text/csv')) throw new Error(`${method} ${path}: not text/csv`);
    return;
  }
  described(route.response, `${route.method} ${route.path} response`);
}

function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The API on a loopback port over `ctx`, with one token per kind of caller. */
export function useApi(ctx: CoreContext) {
  const api = { baseUrl: '', service: '', reader: '', admin: '' };
  let close: () => void = () => {};
  beforeAll(async () => {
    const observed = observeWrites(ctx);
    const server = createApp(observed.ctx, pino({ level: 'silent' }), { metrics: observed.metrics }).listen(0);
    await new Promise((resolve) => server.once('listening', resolve));
    api.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
    const actor = { kind: 'STAFF', id: 'test-setup' } as const;
    api.service = (await createApiToken(ctx, { name: 'host-product', scopes: ['SERVICE', 'READ'], actor })).secret;
    api.reader = (await createApiToken(ctx, { name: 'dashboard', scopes: ['READ'], actor })).secret;
    api.admin = (await createApiToken(ctx, { name: 'ana@support', scopes: ['ADMIN'], actor })).secret;
  });
  afterAll(() => close());
  return api;
}
