import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { pino } from 'pino';
import { createApp } from '../../admin/app.js';
import { observeWrites } from '../../cli/wireProcess.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import type { CoreContext } from '../../core/context.js';

export interface ApiReply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** A client for the API under test: JSON in, JSON (or text) out. */
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
