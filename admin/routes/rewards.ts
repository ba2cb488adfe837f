import { z } from 'zod';
import { getAutoReload, setAutoReload, setAutoReloadInput } from '../../core/billing/autoReloadSettings.js';
import { chargeOutcome, settleCharge, settleChargeInput } from '../../core/billing/settleCharge.js';
import { CreditkeeperError } from '../../core/errors.js';
import { createLinkCode, createLinkCodeInput } from '../../core/identity/createLinkCode.js';
import { chatIdentity } from '../../core/identity/provider.js';
import { unlinkIdentity } from '../../core/identity/unlinkIdentity.js';
import { rewardAdView } from '../../core/rewards/rewardAdView.js';
import { accountPath, fieldsOf, reads, route, serviceWrites } from '../route.js';
import { AdReward, AutoReload, AutoReloadCharge, LinkCode, Unlinked } from '../responses.js';
import type { TokenPrincipal } from '../../core/access/authenticateToken.js';

/** Users are the host product's, not an organisation's: a token limited to one organisation cannot act for them. */
function ensureNotOrganisationToken(principal: TokenPrincipal): void {
  if (principal.organisationId) throw new CreditkeeperError('FORBIDDEN', 'This token is limited to an organisation’s accounts');
}

/** Linking chat accounts, rewarded ads, auto-reload settings and the settling of its charges. */
export const rewardRoutes = [
  route({
    method: 'post',
    path: '/v1/users/:userExternalId/link-codes',
    tag: 'Rewards',
    summary: 'A one-time code (15 minutes) for the signed-in user to run /link with in Discord or Slack; the first Discord link pays 5 credits',
    scopes: serviceWrites,
    params: z.strictObject({ userExternalId: createLinkCodeInput.shape.userExternalId }),
    body: fieldsOf(createLinkCodeInput, ['userExternalId']),
    write: 'stored',
    response: LinkCode,
    status: 201,
    handle: async (ctx, { params, body, principal }) => {
      ensureNotOrganisationToken(principal);
      return createLinkCode(ctx, { ...body, userExternalId: params.userExternalId });
    },
  }),
  route({
    method: 'post',
    path: '/v1/identities/unlink',
    tag: 'Rewards',
    summary: 'Unlink a chat account (linking it again later pays no second reward)',
    scopes: serviceWrites,
    body: z.strictObject(chatIdentity),
    write: 'stored',
    response: Unlinked,
    handle: async (ctx, { body, principal }) => {
      ensureNotOrganisationToken(principal);
      return unlinkIdentity(ctx, body);
    },
  }),
  route({
    method: 'get',
    path: '/v1/public/ad-rewards',
    tag: 'Rewards',
    summary:
      "The ad network's server-side verification callback (AdMob's format): signed query, paid once per transaction_id up to the daily cap; no token, limited per IP",
    scopes: 'public',
    query: z.record(z.string(), z.unknown()),
    write: false,
    response: AdReward,
    handle: async (ctx, { rawQuery }) => {
      const result = await rewardAdView(ctx, { query: rawQuery });
      const entry = result.entries[0]!;
      return { rewarded: !result.replayed, entryId: entry.id, credits: entry.amount, balance: result.balance };
    },
  }),
  route({
    method: 'get',
    path: '/v1/accounts/:accountId/auto-reload',
    tag: 'Rewards',
    summary: "An account's auto-reload: on or off, top-up amount, monthly limit and what it bought this month",
    scopes: reads,
    params: accountPath,
    write: false,
    response: AutoReload,
    accountParam: 'accountId',
    handle: async (ctx, { params }) =>
      (await getAutoReload(ctx, params.accountId)) ?? { accountId: params.accountId, enabled: false, amount: null, monthlyLimit: null, usedThisMonth: 0n },
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/auto-reload',
    tag: 'Rewards',
    summary: 'Turn auto-reload on or off: when a spend is short, charge a top-up through the payment webhook and go on',
    scopes: serviceWrites,
    params: accountPath,
    body: fieldsOf(setAutoReloadInput, ['accountId', 'actor', 'origin']),
    write: 'stored',
    response: AutoReload,
    accountParam: 'accountId',
    handle: (ctx, { params, body, actor, origin }) => setAutoReload(ctx, { ...body, accountId: params.accountId, actor, origin }),
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/auto-reload/charges/:chargeKey/confirmation',
    tag: 'Rewards',
    summary:
      'The host settles an auto-reload charge whose answer was lost (the Idempotency-Key it was sent, URL-encoded): charged, its credits land once; declined, its reservation is released',
    scopes: serviceWrites,
    params: z.strictObject({ accountId: accountPath.shape.accountId, chargeKey: settleChargeInput.shape.chargeKey }),
    body: chargeOutcome,
    write: 'stored',
    response: AutoReloadCharge,
    accountParam: 'accountId',
    handle: (ctx, { params, body }) => settleCharge(ctx, { accountId: params.accountId, chargeKey: params.chargeKey, outcome: body }),
  }),
];
