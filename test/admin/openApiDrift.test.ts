import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { documentText, schemaHeader } from '../../client/document.js';
import { client, useApi } from '../support/api.js';
import { checkReply, checksReplies } from '../support/replyCheck.js';
import { useFreshLedger } from '../support/scenario.js';

const committed = (file: string) => readFileSync(new URL(`../../client/${file}`, import.meta.url), 'utf8');
const regenerate = 'the routes changed without `npm run client`: run it and commit client/';

/** The typed client in client/ is generated from client/openapi.json: both must be what the server serves. */
describe('the committed OpenAPI document and client (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const api = useApi(ctx);

  it('client/openapi.json is the document the routes make, and the one the server serves', async () => {
    expect(committed('openapi.json') === documentText(), regenerate).toBe(true);
    expect((await client(api.baseUrl)('GET', '/v1/openapi.json')).body).toEqual(JSON.parse(committed('openapi.json')));
  });

  it('client/schema.d.ts was generated from that document', () => {
    expect(committed('schema.d.ts').split('\n', 1)[0], regenerate).toBe(schemaHeader(committed('openapi.json')));
  });
});

describe('checking a reply against the document', () => {
  const headers = new Headers({ 'content-type': 'application/json' });
  const plans = { plans: [{ id: 'free', name: 'Free', allocation: 12, period: 'week', unused: 'reset' }] };
  const check = (status: number, body: unknown, path = '/v1/plans') =>
    checkReply('GET', `http://127.0.0.1${path}`, { status, headers }, typeof body === 'string' ? body : JSON.stringify(body));

  it('is done on every request of every test file', () => {
    expect(checksReplies(globalThis.fetch)).toBe(true);
  });

  it('passes the reply the document describes', async () => {
    await expect(check(200, plans)).resolves.toBeUndefined();
    await expect(check(404, { error: { code: 'ACCOUNT_NOT_FOUND', message: 'No account', requestId: 'r1' } })).resolves.toBeUndefined();
  });

  it('fails a field the document does not describe, one it promises and is missing, a wrong type or status, an unknown error code', async () => {
    await expect(check(200, { ...plans, extra: 1 })).rejects.toThrow(/not the get \/v1\/plans response/);
    await expect(check(200, { plans: [{ ...plans.plans[0], allocation: '12' }] })).rejects.toThrow(/allocation/);
    await expect(check(200, {})).rejects.toThrow(/plans/);
    await expect(check(201, plans)).rejects.toThrow(/201, where the document says 200/);
    await expect(check(500, { error: { code: 'OOPS', message: 'x', requestId: 'r1' } })).rejects.toThrow(/Error/);
    await expect(check(400, 'not json', '/v1/nowhere')).rejects.toThrow(/Error/);
  });
});
