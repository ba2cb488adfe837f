import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { client, dataOf, key, landed, refusal, typedClient, useApi } from '../support/api.js';
import { useFreshLedger } from '../support/scenario.js';

/** The routes the scenario tests do not walk: happy path, then the errors each can return. */
describe('every other route (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const api = useApi(ctx);

  it('members: add and change a role; an unknown user or organisation is 404; a bad role is 400', async () => {
    const host = typedClient(api.baseUrl, api.service);
    const org = `studio-${randomUUID()}`;
    const olga = `olga-${org}`;
    await host.POST('/v1/accounts', { params: { header: key() }, body: { owner: { kind: 'ORGANISATION', externalId: org, name: 'Studio' } } });
    await host.POST('/v1/accounts', { params: { header: key() }, body: { owner: { kind: 'USER', externalId: olga } } });
    const member = (organisationExternalId: string, body: { userExternalId: string; role: 'OWNER' | 'ADMIN' | 'OPERATOR' | 'VIEWER' }, idempotencyKey?: string) =>
      host.POST('/v1/organisations/{organisationExternalId}/members', { params: { path: { organisationExternalId }, header: key(idempotencyKey) }, body });
    const added = await member(org, { userExternalId: olga, role: 'OPERATOR' });
    expect([added.response.status, dataOf(added).role]).toEqual([200, 'OPERATOR']);
    expect(dataOf(await member(org, { userExternalId: olga, role: 'ADMIN' })).role).toBe('ADMIN');
    expect(refusal(await member(org, { userExternalId: 'ghost', role: 'VIEWER' }))).toEqual([404, 'OWNER_NOT_FOUND']);
    expect(refusal(await member('nobody', { userExternalId: olga, role: 'VIEWER' }))).toEqual([404, 'OWNER_NOT_FOUND']);
    // Sent raw: a role the document does not allow.
    const king = await client(api.baseUrl, api.service)('POST', `/v1/organisations/${org}/members`, { key: randomUUID(), body: { userExternalId: olga, role: 'KING' } });
    expect(king.status).toBe(400);
    const replay = await member(org, { userExternalId: olga, role: 'VIEWER' }, 'same');
    const again = await member(org, { userExternalId: olga, role: 'VIEWER' }, 'same');
    expect([again.response.status, again.response.headers.get('idempotent-replayed'), again.data]).toEqual([replay.response.status, 'true', replay.data]);
    expect(refusal(await member(org, { userExternalId: olga, role: 'ADMIN' }, 'same'))).toEqual([409, 'IDEMPOTENCY_CONFLICT']);
  });

  it('purchase reversal and deposit void over HTTP, each refused the second time', async () => {
    const host = typedClient(api.baseUrl, api.service);
    const accountId = dataOf(await host.POST('/v1/accounts', { params: { header: key() }, body: { owner: { kind: 'USER', externalId: `r-${randomUUID()}` } } })).accountId;
    const path = { accountId };
    const bought = landed(dataOf(await host.POST('/v1/accounts/{accountId}/purchases', { params: { path, header: key() }, body: { amount: 100 } })));
    const submitted = landed(dataOf(await host.POST('/v1/accounts/{accountId}/usage', { params: { path, header: key() }, body: { charge: { action: 'submission', clipSeconds: [10] } } })));
    const deposit = { accountId, depositId: submitted.depositId! };
    const voided = await host.POST('/v1/accounts/{accountId}/deposits/{depositId}/void', { params: { path: deposit, header: key() }, body: { reason: 'Withdrawn' } });
    expect(dataOf(voided).entries[0]).toMatchObject({ type: 'DEPOSIT_VOID', amount: '50', balanceAfter: '100' });
    const voidAgain = await host.POST('/v1/accounts/{accountId}/deposits/{depositId}/void', { params: { path: deposit, header: key() }, body: {} });
    expect(refusal(voidAgain)).toEqual([409, 'DEPOSIT_ALREADY_SETTLED']);
    const unknownDeposit = { accountId, depositId: randomUUID() };
    const reconcileUnknown = await host.POST('/v1/accounts/{accountId}/deposits/{depositId}/reconciliation', { params: { path: unknownDeposit, header: key() }, body: { actual: { amount: 1 } } });
    expect(refusal(reconcileUnknown)).toEqual([404, 'DEPOSIT_NOT_FOUND']);
    const reverse = (entryId: string) => host.POST('/v1/accounts/{accountId}/purchases/{entryId}/reversal', { params: { path: { accountId, entryId }, header: key() }, body: { reason: 'Chargeback' } });
    const reversed = dataOf(await reverse(bought.entries[0]!.id));
    expect(reversed.entries[0]).toMatchObject({ type: 'PURCHASE_REVERSAL', amount: '-100', balanceAfter: '0' });
    expect(refusal(await reverse(bought.entries[0]!.id))).toEqual([409, 'ALREADY_REVERSED']);
    expect(refusal(await reverse(reversed.entries[0]!.id))).toEqual([409, 'NOT_REVERSIBLE']);
    const reader = typedClient(api.baseUrl, api.reader);
    const group = (seq: string) => reader.GET('/v1/accounts/{accountId}/activity/groups/{seq}', { params: { path: { accountId, seq } } });
    expect(refusal(await group('999'))).toEqual([404, 'ENTRY_NOT_FOUND']);
    expect(refusal(await group('-1'))).toEqual([400, 'VALIDATION_FAILED']);
  });

  it('the admin search and audit routes refuse bad input', async () => {
    const staff = client(api.baseUrl, api.admin);
    // Sent raw: a search without its required query.
    expect((await staff('GET', '/v1/admin/accounts')).status).toBe(400);
    const support = typedClient(api.baseUrl, api.admin);
    expect(refusal(await support.GET('/v1/admin/audit', { params: { query: { accountId: 'nope' } } }))).toEqual([400, 'VALIDATION_FAILED']);
    expect(refusal(await support.GET('/v1/admin/audit', { params: { query: { cursor: 'garbage' } } }))).toEqual([400, 'VALIDATION_FAILED']);
    const backwards = await support.GET('/v1/admin/audit', { params: { query: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } } });
    expect(refusal(backwards)).toEqual([400, 'VALIDATION_FAILED']);
    expect(refusal(await typedClient(api.baseUrl, api.reader).GET('/v1/admin/audit'))).toEqual([403, 'FORBIDDEN']);
  });
});
