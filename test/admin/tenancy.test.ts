import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { authenticateToken } from '../../core/access/authenticateToken.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import { createLoginLink } from '../../core/access/createLoginLink.js';
import { addMember } from '../../core/accounts/addMember.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { purchase } from '../../core/ledger/purchase.js';
import { client, useApi } from '../support/api.js';
import { engines } from '../support/databases.js';
import { balanceOf, entryCount, expectError, key, service, useFreshLedger } from '../support/scenario.js';

const setup = { kind: 'STAFF', id: 'test-setup' } as const;

/**
 * Who reaches what. Two agencies, orgA (with its client) and orgB, and a user, victim, who has
 * 100 credits of their own and is also a member of orgA. orgA's tokens reach orgA's account and its
 * client's; never orgB's, and never a member's personal account.
 */
describe.each(engines)('tenancy on %s', (engine) => {
  const ctx = useFreshLedger(engine);
  const api = useApi(ctx);
  const run = randomUUID().slice(0, 8);
  const ids = { orgA: '', clientA: '', orgB: '', victim: '' };
  const tokens = { serviceA: '', adminA: '' };
  const victim = `victim-${run}`;

  beforeAll(async () => {
    ids.orgA = (await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: `orgA-${run}`, name: `Agency A ${run}` } })).accountId;
    ids.clientA = (await openAccount(ctx, { owner: { kind: 'CLIENT', organisationExternalId: `orgA-${run}`, externalId: 'acme', name: `Acme ${run}` } })).accountId;
    ids.orgB = (await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: `orgB-${run}`, name: `Agency B ${run}` } })).accountId;
    ids.victim = (await openAccount(ctx, { owner: { kind: 'USER', externalId: victim, displayName: `Victim ${run}` } })).accountId;
    await addMember(ctx, { organisationExternalId: `orgA-${run}`, userExternalId: victim, role: 'VIEWER' });
    for (const accountId of Object.values(ids)) await purchase(ctx, { accountId, idempotencyKey: 'seed-100', actor: service, amount: 100n });
    const limited = { organisationExternalId: `orgA-${run}`, actor: setup };
    tokens.serviceA = (await createApiToken(ctx, { name: 'orgA-host', scopes: ['SERVICE', 'READ'], ...limited })).secret;
    tokens.adminA = (await createApiToken(ctx, { name: 'staff-a', scopes: ['ADMIN'], ...limited })).secret;
  });

  it("an organisation's token reaches its own and its client's accounts, not orgB's and not a member's own", async () => {
    const asA = client(api.baseUrl, tokens.serviceA);
    for (const accountId of [ids.orgA, ids.clientA]) {
      const used = await asA('POST', `/v1/accounts/${accountId}/usage`, { key: key(), body: { charge: { action: 'image', quantity: 1 } } });
      expect([used.status, used.body.balance]).toEqual([201, '97']);
    }
    for (const accountId of [ids.orgB, ids.victim]) {
      const before = await entryCount(ctx, accountId);
      const attempts = [
        await asA('POST', `/v1/accounts/${accountId}/usage`, { key: key(), body: { charge: { action: 'image', quantity: 1 } } }),
        await asA('GET', `/v1/accounts/${accountId}/balance`),
        await asA('GET', `/v1/accounts/${accountId}/activity`),
        await asA('GET', `/v1/accounts/${accountId}/auto-reload`),
        await asA('POST', `/v1/accounts/${accountId}/auto-reload`, { key: key(), body: { enabled: true, amount: 50, monthlyLimit: 100 } }),
      ];
      expect(attempts.map((r) => [r.status, r.body?.error?.code])).toEqual(attempts.map(() => [404, 'ACCOUNT_NOT_FOUND']));
      expect([await entryCount(ctx, accountId), await balanceOf(ctx, accountId)]).toEqual([before, 100n]);
    }
  });

  it('an organisation token cannot adopt a stranger: enrolling a new member takes an unrestricted SERVICE token', async () => {
    const stranger = `stranger-${run}`;
    await openAccount(ctx, { owner: { kind: 'USER', externalId: stranger } });
    const asA = client(api.baseUrl, tokens.serviceA);
    const adopt = await asA('POST', `/v1/organisations/orgA-${run}/members`, { key: key(), body: { userExternalId: stranger, role: 'VIEWER' } });
    expect([adopt.status, adopt.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const intoB = await asA('POST', `/v1/organisations/orgB-${run}/members`, { key: key(), body: { userExternalId: victim, role: 'VIEWER' } });
    expect([intoB.status, intoB.body.error.code]).toEqual([403, 'FORBIDDEN']);
    // Its own existing member's role it may change; that still gives it nothing of the member's own account.
    const promoted = await asA('POST', `/v1/organisations/orgA-${run}/members`, { key: key(), body: { userExternalId: victim, role: 'OPERATOR' } });
    expect([promoted.status, promoted.body.role]).toEqual([200, 'OPERATOR']);
    expect((await asA('GET', `/v1/accounts/${ids.victim}/balance`)).status).toBe(404);
    const byHost = await client(api.baseUrl, api.service)('POST', `/v1/organisations/orgA-${run}/members`, { key: key(), body: { userExternalId: stranger, role: 'VIEWER' } });
    expect([byHost.status, byHost.body.role]).toEqual([200, 'VIEWER']);
  });

  it('a token limited to an organisation goes with it, never becoming a token for every account', async () => {
    const [gone] = await ctx.db.sql.query<{ id: string }>(`INSERT INTO organisations (external_id, name) VALUES ($1, 'Gone') RETURNING id`, [`gone-${run}`]);
    const { secret } = await createApiToken(ctx, { name: 'gone-host', scopes: ['SERVICE', 'READ'], organisationExternalId: `gone-${run}`, actor: setup });
    await ctx.db.sql.query(`DELETE FROM organisations WHERE id = $1::uuid`, [gone!.id]);
    expect(await ctx.db.sql.query(`SELECT id FROM api_tokens WHERE name = 'gone-host'`)).toEqual([]);
    await expectError(authenticateToken(ctx, secret), 'UNAUTHENTICATED');
  });

  it("an organisation's ADMIN token searches, reads the audit of and adjusts only its organisation's accounts", async () => {
    const asAdminA = client(api.baseUrl, tokens.adminA);
    const found = await asAdminA('GET', `/v1/admin/accounts?search=${encodeURIComponent('Agency')}`);
    expect(found.body.map((a: { accountId: string }) => a.accountId).filter((id: string) => Object.values(ids).includes(id))).toEqual([ids.orgA]);
    expect((await asAdminA('GET', `/v1/admin/accounts?search=${victim}`)).body).toEqual([]);
    expect((await asAdminA('GET', `/v1/admin/accounts?search=${ids.orgB}`)).body).toEqual([]);

    const everywhere = client(api.baseUrl, api.admin);
    await everywhere('POST', `/v1/admin/accounts/${ids.orgB}/adjustments`, { key: key(), body: { amount: 5, reason: 'Goodwill for B' } });
    await asAdminA('POST', `/v1/admin/accounts/${ids.clientA}/adjustments`, { key: key(), body: { amount: 5, reason: 'Goodwill for Acme' } });
    const intoB = await asAdminA('POST', `/v1/admin/accounts/${ids.orgB}/adjustments`, { key: key(), body: { amount: 5, reason: 'Not mine' } });
    expect([intoB.status, intoB.body.error.code]).toEqual([404, 'ACCOUNT_NOT_FOUND']);
    const audit = await asAdminA('GET', '/v1/admin/audit?pageSize=200');
    const accounts = new Set(audit.body.rows.map((r: { accountId: string | null }) => r.accountId));
    expect([...accounts]).toEqual([ids.clientA]);
    expect((await asAdminA('GET', `/v1/admin/audit?accountId=${ids.orgB}`)).body.rows).toEqual([]);
    expect((await everywhere('GET', `/v1/admin/audit?accountId=${ids.orgB}`)).body.rows.length).toBeGreaterThan(0);
  });

  it('the admin page keeps the limit of the token or link it was signed in with', async () => {
    for (const proof of ['token', 'link'] as const) {
      const cookie = await signIn(proof);
      const get = (path: string) => fetch(`${api.baseUrl}${path}`, { headers: { cookie }, redirect: 'manual' });
      const search = await (await get(`/admin?search=${encodeURIComponent('Agency')}`)).text();
      expect(search).toContain(`Agency A ${run}`);
      expect(search).not.toContain(`Agency B ${run}`);
      expect((await get(`/admin/accounts/${ids.clientA}`)).status).toBe(200);
      for (const path of [`/admin/accounts/${ids.orgB}`, `/admin/accounts/${ids.victim}/activity.csv`, `/admin/accounts/${ids.orgB}/groups/1`, '/admin/accounts/not-an-id']) {
        expect([path, (await get(path)).status]).toEqual([path, 404]);
      }
      const page = await (await get(`/admin/accounts/${ids.clientA}`)).text();
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
      const before = await entryCount(ctx, ids.orgB);
      const posted = await fetch(`${api.baseUrl}/admin/accounts/${ids.orgB}/adjustments`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, key: key(), amount: '500', reason: 'Not mine' }).toString(),
        redirect: 'manual',
      });
      expect(posted.status).toBe(404);
      expect(await entryCount(ctx, ids.orgB)).toBe(before);
      const audit = await (await get('/admin/audit')).text();
      expect(audit).not.toContain(ids.orgB.slice(0, 8));
    }
  });

  async function signIn(proof: 'token' | 'link'): Promise<string> {
    const response =
      proof === 'token'
        ? await fetch(`${api.baseUrl}/admin/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ token: tokens.adminA }).toString(),
            redirect: 'manual',
          })
        : await fetch(`${api.baseUrl}/admin/login/link`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ secret: (await createLoginLink(ctx, { staffId: 'staff-a', organisationExternalId: `orgA-${run}` })).secret }).toString(),
            redirect: 'manual',
          });
    expect(response.status).toBe(303);
    return response.headers.get('set-cookie')!.split(';')[0]!;
  }
});

/**
 * Roles with an acting member: Lumen Events' pool, used by its operator ken; olga is its admin,
 * vera a viewer, and sam no member at all. Operators see the pool and run usage; only admins and
 * owners buy, adjust, grant, set auto-reload or change members.
 */
describe.each(engines)('roles of an acting member on %s', (engine) => {
  const ctx = useFreshLedger(engine);
  const api = useApi(ctx);
  const run = randomUUID().slice(0, 8);
  const org = `lumen-${run}`;
  const user = (name: string) => `${name}-${run}`;
  let pool = '';

  beforeAll(async () => {
    pool = (await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: org, name: 'Lumen Events' } })).accountId;
    for (const [name, role] of [['ken', 'OPERATOR'], ['olga', 'ADMIN'], ['vera', 'VIEWER'], ['sam', null]] as const) {
      await openAccount(ctx, { owner: { kind: 'USER', externalId: user(name) } });
      if (role) await addMember(ctx, { organisationExternalId: org, userExternalId: user(name), role });
    }
    await purchase(ctx, { accountId: pool, idempotencyKey: 'order-1000', actor: service, amount: 1000n });
  });

  const as = (name?: string) => {
    const call = client(api.baseUrl, api.service);
    return (method: string, path: string, body: unknown) =>
      call(method, path, { key: key(), body, ...(name && { headers: { 'acting-member': user(name) } }) });
  };

  it("ken, an operator, runs photo processing on the pool and the entry names him; his purchase is refused, written nowhere, and audited", async () => {
    const run40 = await as('ken')('POST', `/v1/accounts/${pool}/usage`, { charge: { action: 'photo_processing', quantity: 40 }, source: { kind: 'event', id: '7', label: 'Spring Gala' } });
    expect([run40.status, run40.body.balance, run40.body.entries[0].actor]).toEqual([201, '960', { kind: 'USER', id: user('ken') }]);
    const before = await entryCount(ctx, pool);
    const bought = await as('ken')('POST', `/v1/accounts/${pool}/purchases`, { amount: 1000 });
    expect([bought.status, bought.body.error.code]).toEqual([403, 'ROLE_FORBIDDEN']);
    expect([await entryCount(ctx, pool), await balanceOf(ctx, pool)]).toEqual([before, 960n]);
    const audit = await client(api.baseUrl, api.admin)('GET', `/v1/admin/audit?accountId=${pool}&actorId=${user('ken')}`);
    expect(audit.body.rows.map((r: { action: string; outcome: string }) => [r.action, r.outcome])).toEqual([['member.purchase', 'denied: role OPERATOR']]);
    // The usage table names the member who ran it; the service's own purchase shows as System.
    const signIn = await fetch(`${api.baseUrl}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: api.admin }).toString(),
      redirect: 'manual',
    });
    const page = await (await fetch(`${api.baseUrl}/admin/accounts/${pool}`, { headers: { cookie: signIn.headers.get('set-cookie')!.split(';')[0]! } })).text();
    expect(page).toContain(`<td>${user('ken')}</td>`);
    expect(page).toContain('<td>System</td>');
  });

  it('each restricted write, by role: admins may, operators, viewers and strangers may not', async () => {
    const writes = {
      purchase: [`/v1/accounts/${pool}/purchases`, { amount: 100 }],
      grant: [`/v1/accounts/${pool}/grants`, { type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 10 }],
      autoReload: [`/v1/accounts/${pool}/auto-reload`, { enabled: true, amount: 50, monthlyLimit: 100 }],
      member: [`/v1/organisations/${org}/members`, { userExternalId: user('vera'), role: 'VIEWER' }],
      usage: [`/v1/accounts/${pool}/usage`, { charge: { action: 'photo_processing', quantity: 1 } }],
    } as const;
    const statuses: Record<string, Record<string, number>> = {};
    for (const name of ['olga', 'ken', 'vera', 'sam']) {
      statuses[name] = {};
      for (const [write, [path, body]] of Object.entries(writes)) statuses[name][write] = (await as(name)('POST', path, body)).status;
    }
    expect(statuses).toEqual({
      olga: { purchase: 201, grant: 201, autoReload: 200, member: 200, usage: 201 },
      ken: { purchase: 403, grant: 403, autoReload: 403, member: 403, usage: 201 },
      vera: { purchase: 403, grant: 403, autoReload: 403, member: 403, usage: 403 },
      sam: { purchase: 403, grant: 403, autoReload: 403, member: 403, usage: 403 },
    });
  });

  it('only an owner makes or unmakes an owner', async () => {
    const promote = await as('olga')('POST', `/v1/organisations/${org}/members`, { userExternalId: user('ken'), role: 'OWNER' });
    expect([promote.status, promote.body.error.code]).toEqual([403, 'ROLE_FORBIDDEN']);
    await addMember(ctx, { organisationExternalId: org, userExternalId: user('vera'), role: 'OWNER' });
    const promoted = await as('vera')('POST', `/v1/organisations/${org}/members`, { userExternalId: user('olga'), role: 'OWNER' });
    expect([promoted.status, promoted.body.role]).toEqual([200, 'OWNER']);
  });

  it('the same rule holds in core, whichever transport calls it (CLI, chat)', async () => {
    await expectError(purchase(ctx, { accountId: pool, idempotencyKey: key(), actor: { kind: 'USER', id: user('ken') }, amount: 10n }), 'ROLE_FORBIDDEN');
    // A user's own personal account is theirs to top up.
    const own = (await openAccount(ctx, { owner: { kind: 'USER', externalId: user('ken') } })).accountId;
    expect((await purchase(ctx, { accountId: own, idempotencyKey: key(), actor: { kind: 'USER', id: user('ken') }, amount: 10n })).balance).toBe(10n);
    const sams = (await openAccount(ctx, { owner: { kind: 'USER', externalId: user('sam') } })).accountId;
    await expectError(purchase(ctx, { accountId: sams, idempotencyKey: key(), actor: { kind: 'USER', id: user('ken') }, amount: 10n }), 'ROLE_FORBIDDEN');
  });

  it('an acting member is for SERVICE tokens: staff act as themselves', async () => {
    const staffCall = await client(api.baseUrl, api.admin)('POST', `/v1/accounts/${pool}/grants`, {
      key: key(),
      body: { type: 'MANUAL_CREDIT', bucket: 'BONUS', amount: 5, reason: 'Goodwill' },
      headers: { 'acting-member': user('olga') },
    });
    expect([staffCall.status, staffCall.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
  });

  it('reward types come only from their flows: the generic grant refuses them', async () => {
    for (const type of ['DISCORD_REWARD', 'AD_REWARD']) {
      const before = await entryCount(ctx, pool);
      const paid = await as()('POST', `/v1/accounts/${pool}/grants`, { type, bucket: 'REWARD', amount: 5 });
      expect([type, paid.status, paid.body.error.code]).toEqual([type, 400, 'VALIDATION_FAILED']);
      expect(await entryCount(ctx, pool)).toBe(before);
    }
  });
});
