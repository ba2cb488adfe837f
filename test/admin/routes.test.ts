import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { client, useApi } from '../support/api.js';
import { useFreshLedger } from '../support/scenario.js';

/** The routes the scenario tests do not walk: happy path, then the errors each can return. */
describe('every other route (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const api = useApi(ctx);

  it('members: add and change a role; an unknown user or organisation is 404; a bad role is 400', async () => {
    const call = client(api.baseUrl, api.service);
    const org = `studio-${randomUUID()}`;
    await call('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'ORGANISATION', externalId: org, name: 'Studio' } } });
    await call('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'USER', externalId: `olga-${org}` } } });
    const added = await call('POST', `/v1/organisations/${org}/members`, { key: randomUUID(), body: { userExternalId: `olga-${org}`, role: 'OPERATOR' } });
    expect([added.status, added.body.role]).toEqual([200, 'OPERATOR']);
    const promoted = await call('POST', `/v1/organisations/${org}/members`, { key: randomUUID(), body: { userExternalId: `olga-${org}`, role: 'ADMIN' } });
    expect(promoted.body.role).toBe('ADMIN');
    expect((await call('POST', `/v1/organisations/${org}/members`, { key: randomUUID(), body: { userExternalId: 'ghost', role: 'VIEWER' } })).status).toBe(404);
    expect((await call('POST', '/v1/organisations/nobody/members', { key: randomUUID(), body: { userExternalId: `olga-${org}`, role: 'VIEWER' } })).status).toBe(404);
    expect((await call('POST', `/v1/organisations/${org}/members`, { key: randomUUID(), body: { userExternalId: `olga-${org}`, role: 'KING' } })).status).toBe(400);
    const replay = await call('POST', `/v1/organisations/${org}/members`, { key: 'same', body: { userExternalId: `olga-${org}`, role: 'VIEWER' } });
    const again = await call('POST', `/v1/organisations/${org}/members`, { key: 'same', body: { userExternalId: `olga-${org}`, role: 'VIEWER' } });
    expect([again.status, again.headers.get('idempotent-replayed'), again.body]).toEqual([replay.status, 'true', replay.body]);
    expect((await call('POST', `/v1/organisations/${org}/members`, { key: 'same', body: { userExternalId: `olga-${org}`, role: 'ADMIN' } })).status).toBe(409);
  });

  it('purchase reversal and deposit void over HTTP, each refused the second time', async () => {
    const call = client(api.baseUrl, api.service);
    const opened = await call('POST', '/v1/accounts', { key: randomUUID(), body: { owner: { kind: 'USER', externalId: `r-${randomUUID()}` } } });
    const accountId = opened.body.accountId as string;
    const bought = await call('POST', `/v1/accounts/${accountId}/purchases`, { key: randomUUID(), body: { amount: 100 } });
    const submitted = await call('POST', `/v1/accounts/${accountId}/usage`, { key: randomUUID(), body: { charge: { action: 'submission', clipSeconds: [10] } } });
    const voided = await call('POST', `/v1/accounts/${accountId}/deposits/${submitted.body.depositId}/void`, { key: randomUUID(), body: { reason: 'Withdrawn' } });
    expect(voided.body.entries[0]).toMatchObject({ type: 'DEPOSIT_VOID', amount: '50', balanceAfter: '100' });
    const voidAgain = await call('POST', `/v1/accounts/${accountId}/deposits/${submitted.body.depositId}/void`, { key: randomUUID(), body: {} });
    expect([voidAgain.status, voidAgain.body.error.code]).toEqual([409, 'DEPOSIT_ALREADY_SETTLED']);
    expect((await call('POST', `/v1/accounts/${accountId}/deposits/${randomUUID()}/reconciliation`, { key: randomUUID(), body: { actual: { amount: 1 } } })).status).toBe(404);
    const reversed = await call('POST', `/v1/accounts/${accountId}/purchases/${bought.body.entries[0].id}/reversal`, { key: randomUUID(), body: { reason: 'Chargeback' } });
    expect(reversed.body.entries[0]).toMatchObject({ type: 'PURCHASE_REVERSAL', amount: '-100', balanceAfter: '0' });
    const reverseAgain = await call('POST', `/v1/accounts/${accountId}/purchases/${bought.body.entries[0].id}/reversal`, { key: randomUUID(), body: {} });
    expect([reverseAgain.status, reverseAgain.body.error.code]).toEqual([409, 'ALREADY_REVERSED']);
    const ofReversal = await call('POST', `/v1/accounts/${accountId}/purchases/${reversed.body.entries[0].id}/reversal`, { key: randomUUID(), body: {} });
    expect([ofReversal.status, ofReversal.body.error.code]).toEqual([409, 'NOT_REVERSIBLE']);
    const group = await client(api.baseUrl, api.reader)('GET', `/v1/accounts/${accountId}/activity/groups/999`);
    expect([group.status, group.body.error.code]).toEqual([404, 'ENTRY_NOT_FOUND']);
    expect((await client(api.baseUrl, api.reader)('GET', `/v1/accounts/${accountId}/activity/groups/-1`)).status).toBe(400);
  });

  it('the admin search and audit routes refuse bad input', async () => {
    const staff = client(api.baseUrl, api.admin);
    expect((await staff('GET', '/v1/admin/accounts')).status).toBe(400);
    expect((await staff('GET', '/v1/admin/audit?accountId=nope')).status).toBe(400);
    expect((await staff('GET', '/v1/admin/audit?cursor=garbage')).status).toBe(400);
    expect((await staff('GET', '/v1/admin/audit?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z')).status).toBe(400);
    expect((await client(api.baseUrl, api.reader)('GET', '/v1/admin/audit')).status).toBe(403);
  });
});
