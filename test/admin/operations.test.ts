import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../admin/app.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import { authenticateToken } from '../../core/access/authenticateToken.js';
import { ensureBootstrapToken } from '../../core/access/ensureBootstrapToken.js';
import { client, dataOf, key, refusal, typedClient, useApi } from '../support/api.js';
import { freshContext } from '../support/databases.js';
import { useFreshLedger } from '../support/scenario.js';

describe('operating the API (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const api = useApi(ctx);

  it('/metrics counts requests, ledger writes and denials', async () => {
    const host = typedClient(api.baseUrl, api.service);
    const opened = await host.POST('/v1/accounts', { params: { header: key() }, body: { owner: { kind: 'USER', externalId: `m-${randomUUID()}` } } });
    const path = { accountId: dataOf(opened).accountId };
    await host.POST('/v1/accounts/{accountId}/purchases', { params: { path, header: key() }, body: { amount: 3 } });
    const denied = await host.POST('/v1/accounts/{accountId}/usage', { params: { path, header: key() }, body: { charge: { action: 'image', quantity: 2 } } });
    expect(refusal(denied)).toEqual([402, 'INSUFFICIENT_CREDITS']);
    const text = (await client(api.baseUrl)('GET', '/metrics')).text;
    expect(text).toContain('creditkeeper_ledger_writes_total{operation="purchase",outcome="written"} 1');
    expect(text).toContain('creditkeeper_ledger_writes_total{operation="spend",outcome="INSUFFICIENT_CREDITS"} 1');
    expect(text).toMatch(/creditkeeper_http_requests_total\{method="POST",route="\/v1\/accounts\/:accountId\/usage",status="402"\} 1/);
    expect(text).toContain('creditkeeper_http_request_duration_seconds_bucket');
  });

  it('a token over its rate gets 429 with Retry-After; so does an IP that keeps guessing tokens', async () => {
    const server = createApp(ctx, pino({ level: 'silent' }), { perTokenPerSecond: 1 }).listen(0);
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const token = (await createApiToken(ctx, { name: 'slow', scopes: ['READ'], actor: { kind: 'STAFF', id: 't' } })).secret;
      const audit = () => typedClient(base, token).GET('/v1/admin/audit');
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await audit()).response.status);
      expect(statuses).toEqual([403, 403, 429]);
      const limited = await audit();
      expect(limited.response.headers.get('retry-after')).toBe('1');
      expect(refusal(limited)).toEqual([429, 'RATE_LIMITED']);
      const guesses = [];
      for (let i = 0; i < 25; i++) guesses.push((await typedClient(base, `ck_guess${i}xxxxxxxxxx`).GET('/v1/admin/audit')).response.status);
      expect(guesses.slice(0, 20).every((s) => s === 401)).toBe(true);
      expect(guesses.at(-1)).toBe(429);
    } finally {
      server.close();
    }
  });

  it('the first start on an empty database makes one bootstrap token with every scope, and only once', async () => {
    const empty = await freshContext('pglite');
    try {
      const first = await ensureBootstrapToken(empty);
      expect(first?.secret).toMatch(/^ck_/);
      expect(await ensureBootstrapToken(empty)).toBeNull();
      const principal = await authenticateToken(empty, first!.secret);
      expect(principal.scopes.sort()).toEqual(['ADMIN', 'READ', 'SERVICE']);
    } finally {
      await empty.db.close();
    }
  });
});
