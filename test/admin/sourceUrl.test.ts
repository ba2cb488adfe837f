import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { client, useApi } from '../support/api.js';
import { entryCount, useFreshLedger } from '../support/scenario.js';

/** A source link is something staff and users open: only web pages are accepted. */
describe('source URLs over HTTP (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const api = useApi(ctx);

  it('refuses javascript:, data: and other schemes in any case with 400 VALIDATION_FAILED, and takes http(s)', async () => {
    const call = client(api.baseUrl, api.service);
    const accountId = (await call('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'USER', externalId: 'uma' } } })).body.accountId as string;
    await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), body: { amount: 100 } });
    const usage = (url: string) => call('POST', `/v1/accounts/${accountId}/usage`, { key: randomUUID(), body: { charge: { action: 'chat' }, source: { kind: 'model', url } } });
    const before = await entryCount(ctx, accountId);
    for (const url of [
      'javascript:alert(document.domain)',
      'JAVASCRIPT:alert(1)',
      'JavaScript:alert(1)',
      ' javascript:alert(1)',
      'java\tscript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'DATA:text/html;base64,PHNjcmlwdD4=',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      'ftp://files.example/x',
    ]) {
      const reply = await usage(url);
      expect(reply.status, url).toBe(400);
      expect(reply.body.error.code, url).toBe('VALIDATION_FAILED');
    }
    expect(await entryCount(ctx, accountId)).toBe(before);
    expect((await usage('https://studio.example/creatives/77')).status).toBe(201);
    expect((await usage('HTTP://studio.example/creatives/78')).status).toBe(201);
  });
});
