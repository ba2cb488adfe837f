import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { pino } from 'pino';
import { createApp } from '../../admin/app.js';
import { observeWrites } from '../../cli/wireProcess.js';
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
 * purpose): JSON in, JSON (or text) out.
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
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, headers: response.headers, body, text };
  };
}

/** The generated client (client/), as a host product would use it. */
export function typedClient(baseUrl: string, token?: string): CreditkeeperClient {
  return creditkeeperClient({ baseUrl, ...(token && { token }) });
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

/** A write that landed now, not one scheduled for later (`effectiveAt`) nor a dry run's answer: the union's side with entries. */
export function landed<T extends object>(write: T): Extract<T, { entries: unknown }> {
  if (!('entries' in write)) throw new Error(`scheduled, not written: ${JSON.stringify(write)}`);
  return write as Extract<T, { entries: unknown }>;
}

/** A typed reply's status and error code: what a refusal is checked by. */
export function refusal(reply: { error?: { error: { code: string } }; response: Response }): [number, string | undefined] {
  return [reply.response.status, reply.error?.error.code];
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
