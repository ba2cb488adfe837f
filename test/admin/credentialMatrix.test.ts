import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../admin/app.js';
import { adminPage } from '../../admin/page/router.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import { addMember } from '../../core/accounts/addMember.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { scheduleGrant } from '../../core/ledger/scheduleGrant.js';
import { spend } from '../../core/ledger/spend.js';
import { client, useApi } from '../support/api.js';
import { inDays, key, service, useFreshLedger } from '../support/scenario.js';

/**
 * Every route × every kind of credential, with the answer written down for each. The rows come
 * from the route table: a route added without its row fails this test.
 *
 * Columns: no token; a token that does not exist; an unrestricted token of each scope; orgA's
 * SERVICE token on orgA's own account, on orgB's, and on a member's personal account; orgA's
 * ADMIN token on orgA's and on orgB's. A cell is the status, and the error code when there is one.
 */
const credentials = ['none', 'wrong', 'READ', 'SERVICE', 'ADMIN', 'orgA→orgA', 'orgA→orgB', 'orgA→personal', 'adminA→orgA', 'adminA→orgB'] as const;
type Credential = (typeof credentials)[number];
type Row = Record<Credential, string>;

const unauthenticated = { none: '401 UNAUTHENTICATED', wrong: '401 UNAUTHENTICATED' };
const noScope = '403 FORBIDDEN';
const outOfReach = '404 ACCOUNT_NOT_FOUND';
/** A read of one account: every scope, within its reach. */
const accountRead = (ok: string): Row => ({
  ...unauthenticated, READ: ok, SERVICE: ok, ADMIN: ok,
  'orgA→orgA': ok, 'orgA→orgB': outOfReach, 'orgA→personal': outOfReach, 'adminA→orgA': ok, 'adminA→orgB': outOfReach,
});
/** The host product's write on one account. */
const serviceWrite = (ok: string): Row => ({
  ...unauthenticated, READ: noScope, SERVICE: ok, ADMIN: noScope,
  'orgA→orgA': ok, 'orgA→orgB': outOfReach, 'orgA→personal': outOfReach, 'adminA→orgA': noScope, 'adminA→orgB': noScope,
});
/** A write both the host product and staff make on one account. */
const serviceOrStaffWrite = (ok: string): Row => ({
  ...unauthenticated, READ: noScope, SERVICE: ok, ADMIN: ok,
  'orgA→orgA': ok, 'orgA→orgB': outOfReach, 'orgA→personal': outOfReach, 'adminA→orgA': ok, 'adminA→orgB': outOfReach,
});
/** A staff write on one account. */
const staffWrite = (ok: string): Row => ({
  ...unauthenticated, READ: noScope, SERVICE: noScope, ADMIN: ok,
  'orgA→orgA': noScope, 'orgA→orgB': noScope, 'orgA→personal': noScope, 'adminA→orgA': ok, 'adminA→orgB': outOfReach,
});

/** One endpoint's routes, on an endpoint that does not exist (or is out of reach: the same answer). */
const webhookEndpointRow: Row = Object.fromEntries(
  credentials.map((c) => [c, c === 'none' || c === 'wrong' ? '401 UNAUTHENTICATED' : c === 'READ' ? noScope : '404 WEBHOOK_ENDPOINT_NOT_FOUND']),
) as Row;

/** The written-down answers: one row per route of the table. */
const expected: Record<string, Row> = {
  'POST /v1/accounts': { ...serviceWrite('201'), 'orgA→orgB': noScope, 'orgA→personal': noScope },
  'POST /v1/organisations/:organisationExternalId/members': { ...serviceWrite('200'), 'orgA→orgB': noScope, 'orgA→personal': noScope },
  'POST /v1/accounts/:accountId/usage': serviceWrite('201'),
  // A dry run is a read of the write: the write's credentials, answered 200 with no Idempotency-Key.
  'POST /v1/accounts/:accountId/usage?dryRun=true': serviceWrite('200'),
  'POST /v1/accounts/:accountId/quote': accountRead('200'),
  'POST /v1/accounts/:accountId/purchases': serviceWrite('201'),
  // The accounts are in the events: one out of reach is refused inside a 200 (ACCOUNT_NOT_FOUND, see usageBatch.test.ts).
  'POST /v1/usage/batch': { ...serviceWrite('200'), 'orgA→orgB': '200', 'orgA→personal': '200' },
  'POST /v1/accounts/:accountId/purchases/:entryId/reversal': serviceWrite('201'),
  'POST /v1/accounts/:accountId/grants': serviceOrStaffWrite('201'),
  'POST /v1/accounts/:accountId/refunds': serviceOrStaffWrite('201'),
  'POST /v1/accounts/:accountId/grants/:entryId/void': serviceOrStaffWrite('201'),
  'GET /v1/accounts/:accountId/scheduled': accountRead('200'),
  'POST /v1/accounts/:accountId/scheduled/:scheduledId/cancel': serviceOrStaffWrite('200'),
  'POST /v1/accounts/:accountId/deposits/:depositId/reconciliation': serviceWrite('404 DEPOSIT_NOT_FOUND'),
  'POST /v1/accounts/:accountId/deposits/:depositId/void': serviceWrite('404 DEPOSIT_NOT_FOUND'),
  'GET /v1/plans': { ...unauthenticated, READ: '200', SERVICE: '200', ADMIN: '200', 'orgA→orgA': '200', 'orgA→orgB': '200', 'orgA→personal': '200', 'adminA→orgA': '200', 'adminA→orgB': '200' },
  'GET /v1/accounts/:accountId/subscription': accountRead('404 SUBSCRIPTION_NOT_FOUND'),
  'POST /v1/accounts/:accountId/subscription': serviceWrite('200'),
  'POST /v1/accounts/:accountId/subscription/cancel': serviceWrite('200'),
  'GET /v1/accounts/:accountId/balance': accountRead('200'),
  'GET /v1/accounts/:accountId/activity': accountRead('200'),
  'GET /v1/accounts/:accountId/activity/groups/:seq': accountRead('200'),
  'GET /v1/accounts/:accountId/activity.csv': accountRead('200'),
  'GET /v1/accounts/:accountId/usage/daily': accountRead('200'),
  'GET /v1/accounts/:accountId/usage/monthly': accountRead('200'),
  'GET /v1/accounts/:accountId/why': accountRead('200'),
  // The account is in the body: the same reach as a path's, checked before the link is minted.
  'POST /v1/portal-sessions': serviceWrite('201'),
  'POST /v1/users/:userExternalId/link-codes': { ...serviceWrite('201'), 'orgA→orgA': noScope, 'orgA→orgB': noScope, 'orgA→personal': noScope },
  'POST /v1/identities/unlink': { ...serviceWrite('200'), 'orgA→orgA': noScope, 'orgA→orgB': noScope, 'orgA→personal': noScope },
  // The ad network's callback takes no token: whoever calls, an unsigned one pays nothing.
  'GET /v1/public/ad-rewards': Object.fromEntries(credentials.map((c) => [c, '401 AD_CALLBACK_INVALID'])) as Row,
  'GET /v1/accounts/:accountId/auto-reload': accountRead('200'),
  'POST /v1/accounts/:accountId/auto-reload': serviceWrite('200'),
  'POST /v1/accounts/:accountId/auto-reload/charges/:chargeKey/confirmation': serviceWrite('404 CHARGE_NOT_FOUND'),
  'GET /v1/admin/accounts': { ...staffWrite('200'), 'adminA→orgB': '200' },
  'POST /v1/admin/accounts/:accountId/adjustments': staffWrite('201'),
  'POST /v1/admin/accounts/:accountId/write-offs': staffWrite('201'),
  'GET /v1/admin/audit': { ...staffWrite('200'), 'adminA→orgB': '200' },
  // Webhook endpoints: the host product's or staff's, an organisation-limited token its own organisation's only.
  'POST /v1/webhooks/endpoints': { ...serviceOrStaffWrite('201'), 'orgA→orgB': noScope, 'orgA→personal': noScope, 'adminA→orgB': noScope },
  'GET /v1/webhooks/endpoints': { ...serviceOrStaffWrite('200'), 'orgA→orgB': '200', 'orgA→personal': '200', 'adminA→orgB': '200' },
  'POST /v1/webhooks/endpoints/:endpointId/enabled': webhookEndpointRow,
  'GET /v1/webhooks/endpoints/:endpointId/deliveries': webhookEndpointRow,
  'POST /v1/webhooks/endpoints/:endpointId/deliveries/:eventId/replay': webhookEndpointRow,
  'GET /v1/accounts/:accountId/balance-thresholds': accountRead('200'),
  'POST /v1/accounts/:accountId/balance-thresholds': serviceWrite('200'),
  'POST /v1/organisations/:organisationExternalId/balance-thresholds': { ...serviceWrite('200'), 'orgA→orgB': noScope, 'orgA→personal': noScope },
};

/** What each credential aims at: an account, its organisation and a user. */
interface Target {
  accountId: string;
  organisation: string;
  user: string;
  purchaseEntryId: string;
  usageEntryId: string;
  grantEntryId: string;
  /** A bonus dated next week, for the cancel route. */
  scheduledId: string;
}

/** A request each route accepts from a caller allowed to make it. */
type Fixture = (t: Target) => { path: string; body?: unknown };
const fixtures: Record<string, Fixture> = {
  'POST /v1/accounts': (t) => ({ path: '/v1/accounts', body: { owner: { kind: 'CLIENT', organisationExternalId: t.organisation, externalId: `c-${randomUUID()}`, name: 'New client' } } }),
  'POST /v1/organisations/:organisationExternalId/members': (t) => ({ path: `/v1/organisations/${t.organisation}/members`, body: { userExternalId: t.user, role: 'VIEWER' } }),
  'POST /v1/accounts/:accountId/usage': (t) => ({ path: `/v1/accounts/${t.accountId}/usage`, body: { charge: { action: 'image', quantity: 1 } } }),
  'POST /v1/accounts/:accountId/usage?dryRun=true': (t) => ({ path: `/v1/accounts/${t.accountId}/usage?dryRun=true`, body: { charge: { action: 'image', quantity: 1 } } }),
  'POST /v1/accounts/:accountId/quote': (t) => ({ path: `/v1/accounts/${t.accountId}/quote`, body: { charge: { action: 'image', quantity: 1 } } }),
  'POST /v1/usage/batch': (t) => ({ path: '/v1/usage/batch', body: { events: [{ accountId: t.accountId, idempotencyKey: `m-${randomUUID()}`, charge: { action: 'chat', quantity: 1 } }] } }),
  'POST /v1/accounts/:accountId/purchases': (t) => ({ path: `/v1/accounts/${t.accountId}/purchases`, body: { amount: 10 } }),
  'POST /v1/accounts/:accountId/purchases/:entryId/reversal': (t) => ({ path: `/v1/accounts/${t.accountId}/purchases/${t.purchaseEntryId}/reversal`, body: { reason: 'Chargeback' } }),
  'POST /v1/accounts/:accountId/grants': (t) => ({ path: `/v1/accounts/${t.accountId}/grants`, body: { type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 5, reason: 'Welcome' } }),
  'POST /v1/accounts/:accountId/grants/:entryId/void': (t) => ({ path: `/v1/accounts/${t.accountId}/grants/${t.grantEntryId}/void`, body: { reason: 'Granted by mistake' } }),
  'GET /v1/accounts/:accountId/scheduled': (t) => ({ path: `/v1/accounts/${t.accountId}/scheduled` }),
  'POST /v1/accounts/:accountId/scheduled/:scheduledId/cancel': (t) => ({ path: `/v1/accounts/${t.accountId}/scheduled/${t.scheduledId}/cancel`, body: { reason: 'Not needed' } }),
  'POST /v1/accounts/:accountId/refunds': (t) => ({ path: `/v1/accounts/${t.accountId}/refunds`, body: { entryId: t.usageEntryId, amount: 1, reason: 'Failed image' } }),
  'POST /v1/accounts/:accountId/deposits/:depositId/reconciliation': (t) => ({ path: `/v1/accounts/${t.accountId}/deposits/${randomUUID()}/reconciliation`, body: { actual: { amount: 1 } } }),
  'POST /v1/accounts/:accountId/deposits/:depositId/void': (t) => ({ path: `/v1/accounts/${t.accountId}/deposits/${randomUUID()}/void`, body: {} }),
  'GET /v1/plans': () => ({ path: '/v1/plans' }),
  'GET /v1/accounts/:accountId/subscription': (t) => ({ path: `/v1/accounts/${t.accountId}/subscription` }),
  'POST /v1/accounts/:accountId/subscription': (t) => ({ path: `/v1/accounts/${t.accountId}/subscription`, body: { plan: 'growth' } }),
  'POST /v1/accounts/:accountId/subscription/cancel': (t) => ({ path: `/v1/accounts/${t.accountId}/subscription/cancel`, body: {} }),
  'GET /v1/accounts/:accountId/balance': (t) => ({ path: `/v1/accounts/${t.accountId}/balance` }),
  'GET /v1/accounts/:accountId/activity': (t) => ({ path: `/v1/accounts/${t.accountId}/activity` }),
  'GET /v1/accounts/:accountId/activity/groups/:seq': (t) => ({ path: `/v1/accounts/${t.accountId}/activity/groups/1` }),
  'GET /v1/accounts/:accountId/activity.csv': (t) => ({ path: `/v1/accounts/${t.accountId}/activity.csv` }),
  'GET /v1/accounts/:accountId/usage/daily': (t) => ({ path: `/v1/accounts/${t.accountId}/usage/daily` }),
  'GET /v1/accounts/:accountId/usage/monthly': (t) => ({ path: `/v1/accounts/${t.accountId}/usage/monthly` }),
  'GET /v1/accounts/:accountId/why': (t) => ({ path: `/v1/accounts/${t.accountId}/why` }),
  'POST /v1/portal-sessions': (t) => ({ path: '/v1/portal-sessions', body: { accountId: t.accountId, userExternalId: t.user } }),
  'POST /v1/users/:userExternalId/link-codes': (t) => ({ path: `/v1/users/${t.user}/link-codes`, body: { provider: 'DISCORD' } }),
  'POST /v1/identities/unlink': () => ({ path: '/v1/identities/unlink', body: { provider: 'DISCORD', externalId: '80351110224678912' } }),
  'GET /v1/public/ad-rewards': (t) => ({ path: `/v1/public/ad-rewards?transaction_id=${randomUUID()}&user_id=${t.user}` }),
  'GET /v1/accounts/:accountId/auto-reload': (t) => ({ path: `/v1/accounts/${t.accountId}/auto-reload` }),
  'POST /v1/accounts/:accountId/auto-reload': (t) => ({ path: `/v1/accounts/${t.accountId}/auto-reload`, body: { enabled: true, amount: 50, monthlyLimit: 100 } }),
  'POST /v1/accounts/:accountId/auto-reload/charges/:chargeKey/confirmation': (t) => ({
    path: `/v1/accounts/${t.accountId}/auto-reload/charges/${encodeURIComponent(`auto-reload#${randomUUID()}`)}/confirmation`,
    body: { outcome: 'declined' },
  }),
  'GET /v1/admin/accounts': () => ({ path: '/v1/admin/accounts?search=matrix' }),
  'POST /v1/admin/accounts/:accountId/adjustments': (t) => ({ path: `/v1/admin/accounts/${t.accountId}/adjustments`, body: { amount: 1, reason: 'Goodwill' } }),
  'POST /v1/admin/accounts/:accountId/write-offs': (t) => ({ path: `/v1/admin/accounts/${t.accountId}/write-offs`, body: { amount: 1, reason: 'Cleanup' } }),
  'GET /v1/admin/audit': () => ({ path: '/v1/admin/audit' }),
  'POST /v1/webhooks/endpoints': (t) => ({ path: '/v1/webhooks/endpoints', body: { url: 'https://93.184.215.14/hooks', eventTypes: ['entry.created'], organisationExternalId: t.organisation } }),
  'GET /v1/webhooks/endpoints': () => ({ path: '/v1/webhooks/endpoints' }),
  'GET /v1/accounts/:accountId/balance-thresholds': (t) => ({ path: `/v1/accounts/${t.accountId}/balance-thresholds` }),
  'POST /v1/accounts/:accountId/balance-thresholds': (t) => ({ path: `/v1/accounts/${t.accountId}/balance-thresholds`, body: { levels: [{ amount: 50 }] } }),
  'POST /v1/organisations/:organisationExternalId/balance-thresholds': (t) => ({ path: `/v1/organisations/${t.organisation}/balance-thresholds`, body: { levels: [{ amount: 20 }] } }),
  'POST /v1/webhooks/endpoints/:endpointId/enabled': () => ({ path: `/v1/webhooks/endpoints/${randomUUID()}/enabled`, body: { enabled: false } }),
  'GET /v1/webhooks/endpoints/:endpointId/deliveries': () => ({ path: `/v1/webhooks/endpoints/${randomUUID()}/deliveries` }),
  'POST /v1/webhooks/endpoints/:endpointId/deliveries/:eventId/replay': () => ({ path: `/v1/webhooks/endpoints/${randomUUID()}/deliveries/${randomUUID()}/replay`, body: {} }),
};

/** Rows beyond the route table: a route asked another way, sent without an Idempotency-Key. */
const keylessVariants: Record<string, 'get' | 'post'> = { 'POST /v1/accounts/:accountId/usage?dryRun=true': 'post' };

describe('the route × credential matrix (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const api = useApi(ctx);
  const run = randomUUID().slice(0, 8);
  const tokens = {} as Record<'READ' | 'SERVICE' | 'ADMIN' | 'serviceA' | 'adminA', string>;
  const targets = {} as Record<'orgA' | 'orgB' | 'personal' | Credential, Target>;

  async function target(owner: Parameters<typeof openAccount>[1]['owner'], organisation: string, user: string): Promise<Target> {
    const { accountId } = await openAccount(ctx, { owner });
    const bought = await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 1_000n });
    const spent = await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 100 } });
    // Enough that the purchase's reversal, which takes back 1,000 from whatever is left, leaves some of it to void.
    const bonus = await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 1_000n });
    const dated = await scheduleGrant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 5n, effectiveAt: inDays(7) });
    return { accountId, organisation, user, purchaseEntryId: bought.entries[0]!.id, usageEntryId: spent.entries[0]!.id, grantEntryId: bonus.entries[0]!.id, scheduledId: dated.scheduled.id };
  }

  /** The personal account of one of orgA's own members: membership must not open it to orgA. */
  async function memberOwnAccount(user: string): Promise<Target> {
    const own = await target({ kind: 'USER', externalId: user }, `orgB-${run}`, `outsider-${run}`);
    await addMember(ctx, { organisationExternalId: `orgA-${run}`, userExternalId: user, role: 'VIEWER' });
    return own;
  }

  beforeAll(async () => {
    const setup = { kind: 'STAFF', id: 'matrix' } as const;
    await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: `orgA-${run}`, name: 'matrix A' } });
    await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: `orgB-${run}`, name: 'matrix B' } });
    const member = `member-${run}`;
    const outsider = `outsider-${run}`;
    for (const user of [member, outsider]) await openAccount(ctx, { owner: { kind: 'USER', externalId: user } });
    await addMember(ctx, { organisationExternalId: `orgA-${run}`, userExternalId: member, role: 'OPERATOR' });
    for (const scope of ['READ', 'SERVICE', 'ADMIN'] as const) tokens[scope] = (await createApiToken(ctx, { name: `only-${scope}`, scopes: [scope], actor: setup })).secret;
    tokens.serviceA = (await createApiToken(ctx, { name: 'orgA-host', scopes: ['SERVICE', 'READ'], organisationExternalId: `orgA-${run}`, actor: setup })).secret;
    tokens.adminA = (await createApiToken(ctx, { name: 'staff-a', scopes: ['ADMIN'], organisationExternalId: `orgA-${run}`, actor: setup })).secret;
    // Each credential aims at accounts of its own, so one column's writes never change another's answers.
    for (const credential of credentials) {
      const aimsAt = credential.endsWith('orgB') ? 'orgB' : credential.endsWith('personal') ? 'personal' : 'orgA';
      const clientId = `client-${credential.replace(/\W/g, '')}-${randomUUID().slice(0, 6)}`;
      targets[credential] =
        aimsAt === 'personal'
          ? await memberOwnAccount(`personal-${randomUUID()}`)
          : await target({ kind: 'CLIENT', organisationExternalId: `${aimsAt}-${run}`, externalId: clientId, name: 'matrix client' }, `${aimsAt}-${run}`, aimsAt === 'orgA' ? member : outsider);
    }
  });

  const secretOf: Record<Credential, string | undefined> = {} as Record<Credential, string | undefined>;
  beforeAll(() => {
    Object.assign(secretOf, {
      none: undefined,
      wrong: `ck_${'x'.repeat(43)}`,
      READ: tokens.READ,
      SERVICE: tokens.SERVICE,
      ADMIN: tokens.ADMIN,
      'orgA→orgA': tokens.serviceA,
      'orgA→orgB': tokens.serviceA,
      'orgA→personal': tokens.serviceA,
      'adminA→orgA': tokens.adminA,
      'adminA→orgB': tokens.adminA,
    });
  });

  it('every route of the table has its row and its request', () => {
    const routes = apiRoutes.map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(routes.filter((r) => !(r in expected))).toEqual([]);
    expect(routes.filter((r) => !(r in fixtures))).toEqual([]);
    expect(Object.keys(expected).filter((r) => !routes.includes(r) && !(r in keylessVariants))).toEqual([]);
    expect(Object.keys(keylessVariants).filter((r) => !(r in fixtures))).toEqual([]);
  });

  it('every route answers every credential as written down', async () => {
    const actual: Record<string, Partial<Row>> = {};
    // Each request from an address of its own (through the loopback proxy): the failed sign-ins
    // of the first two columns must not use up one address's budget and turn into 429s.
    let address = 0;
    const asked = [
      ...apiRoutes.map((r) => ({ name: `${r.method.toUpperCase()} ${r.path}`, method: r.method, keyless: false })),
      ...Object.entries(keylessVariants).map(([name, method]) => ({ name, method, keyless: true })),
    ];
    for (const { name, method, keyless } of asked) {
      actual[name] = {};
      for (const credential of credentials) {
        const { path, body } = fixtures[name]!(targets[credential]);
        const reply = await client(api.baseUrl, secretOf[credential])(method.toUpperCase(), path, {
          ...(method === 'post' && { ...(!keyless && { key: key() }), body: body ?? {} }),
          headers: { 'x-forwarded-for': `10.0.${Math.floor(++address / 250)}.${address % 250}` },
        });
        actual[name]![credential] = reply.body?.error ? `${reply.status} ${reply.body.error.code}` : String(reply.status);
      }
    }
    expect(actual).toEqual(expected);
  });

  it("orgA's token cancelling orgB's dated bonus through orgA's own account path is 404 SCHEDULE_NOT_FOUND, and orgB's bonus stays pending", async () => {
    const orgA = targets['orgA→orgA'].accountId;
    const orgB = targets['orgA→orgB'].accountId;
    const theirs = await scheduleGrant(ctx, { accountId: orgB, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 5n, effectiveAt: inDays(3) });
    const cancel = await client(api.baseUrl, tokens.serviceA)('POST', `/v1/accounts/${orgA}/scheduled/${theirs.scheduled.id}/cancel`, { key: key(), body: { reason: 'Not ours' } });
    expect([cancel.status, cancel.body.error?.code]).toEqual([404, 'SCHEDULE_NOT_FOUND']);
    const listed = await client(api.baseUrl, tokens.SERVICE)('GET', `/v1/accounts/${orgB}/scheduled`);
    expect(listed.body.scheduled.find((s: { id: string }) => s.id === theirs.scheduled.id)).toMatchObject({ status: 'pending', amount: '5', cancelledAt: null });
  });
});

/** The admin page: each of its routes without a session, with one, and a form without its CSRF token. */
describe('the admin page × session matrix (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  const api = useApi(ctx);

  const pageRows: Record<string, { signedOut: number; signedIn: number; noCsrf?: number }> = {
    'GET /login': { signedOut: 200, signedIn: 200 },
    'POST /login': { signedOut: 401, signedIn: 401 },
    'GET /login/:secret': { signedOut: 200, signedIn: 200 },
    'POST /login/link': { signedOut: 401, signedIn: 401 },
    'POST /logout': { signedOut: 401, signedIn: 303, noCsrf: 403 },
    'GET /': { signedOut: 303, signedIn: 200 },
    'GET /accounts/:accountId': { signedOut: 303, signedIn: 200 },
    'GET /accounts/:accountId/activity.csv': { signedOut: 303, signedIn: 200 },
    'GET /accounts/:accountId/groups/:seq': { signedOut: 303, signedIn: 200 },
    'POST /accounts/:accountId/adjustments': { signedOut: 401, signedIn: 303, noCsrf: 403 },
    // The matrix's form names no entry: refused as bad input once signed in.
    'POST /accounts/:accountId/voids': { signedOut: 401, signedIn: 400, noCsrf: 403 },
    // The matrix's form names no kind of credits, and no schedule: refused as bad input once signed in.
    'POST /accounts/:accountId/grants': { signedOut: 401, signedIn: 400, noCsrf: 403 },
    'POST /accounts/:accountId/cancellations': { signedOut: 401, signedIn: 400, noCsrf: 403 },
    'GET /audit': { signedOut: 303, signedIn: 200 },
    'GET /favicon.svg': { signedOut: 200, signedIn: 200 },
    // The matrix's form names no zone: refused as bad input once signed in.
    'POST /time-zone': { signedOut: 401, signedIn: 400, noCsrf: 403 },
    'GET /webhooks': { signedOut: 303, signedIn: 200 },
    'POST /webhooks/:endpointId/deliveries/:eventId/replay': { signedOut: 401, signedIn: 404, noCsrf: 403 },
  };

  it('every page route has its row, and answers as written down', async () => {
    const router = adminPage(ctx, undefined as never);
    const stack = (router as unknown as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] }).stack;
    const routes = stack.filter((l) => l.route).map((l) => `${Object.keys(l.route!.methods)[0]!.toUpperCase()} ${l.route!.path}`);
    expect(routes.filter((r) => !(r in pageRows))).toEqual([]);

    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `page-${randomUUID()}` } });
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 10n });
    const signIn = await fetch(`${api.baseUrl}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: api.admin }).toString(),
      redirect: 'manual',
    });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await (await fetch(`${api.baseUrl}/admin`, { headers: { cookie } })).text())![1]!;
    const paths: Record<string, string> = { ':accountId': accountId, ':seq': '1', ':secret': 'not-a-link', ':endpointId': randomUUID(), ':eventId': randomUUID() };
    const call = async (route: string, session: string | undefined, withCsrf: boolean) => {
      const [method, pattern] = route.split(' ') as [string, string];
      const path = pattern.replace(/:\w+/g, (p) => paths[p]!);
      const form = method === 'POST' ? new URLSearchParams({ ...(withCsrf && { _csrf: csrf }), key: key(), amount: '1', reason: 'matrix', token: 'wrong', secret: 'wrong' }) : undefined;
      const reply = await fetch(`${api.baseUrl}/admin${path === '/' ? '' : path}`, {
        method,
        headers: { ...(session && { cookie: session }), ...(form && { 'content-type': 'application/x-www-form-urlencoded' }) },
        ...(form && { body: form.toString() }),
        redirect: 'manual',
      });
      return reply.status;
    };
    const actual: typeof pageRows = {};
    // Logging out ends the session: it goes last.
    for (const route of [...routes.filter((r) => r !== 'POST /logout'), 'POST /logout']) {
      const row = pageRows[route]!;
      actual[route] = {
        signedOut: await call(route, undefined, true),
        ...(row.noCsrf !== undefined && { noCsrf: await call(route, cookie, false) }),
        signedIn: await call(route, cookie, true),
      };
    }
    expect(actual).toEqual(pageRows);
  });
});
