import { z } from 'zod';
import { CreditkeeperError } from '../../core/errors.js';
import { cancelSubscription } from '../../core/plans/cancelSubscription.js';
import { subscribe, subscribeInput } from '../../core/plans/subscribe.js';
import { findSubscription } from '../../core/plans/subscriptionRecord.js';
import { accountPath, fieldsOf, ledgerSupplied, reads, route, serviceWrites } from '../route.js';
import { PlanList, Subscription, SubscriptionWrite } from '../responses.js';

/** Plans and subscriptions: the host product puts accounts on plans; cron lands their grants. */
export const planRoutes = [
  route({
    method: 'get',
    path: '/v1/plans',
    tag: 'Plans',
    summary: 'The plans an account can be on: allocation, period, and what happens to unused credits',
    scopes: reads,
    write: false,
    response: PlanList,
    handle: async (ctx) => ({ plans: Object.entries(ctx.plans).map(([id, plan]) => ({ id, ...plan })) }),
  }),
  route({
    method: 'get',
    path: '/v1/accounts/:accountId/subscription',
    tag: 'Plans',
    summary: "An account's subscription: plan, status, current period and when the next grant lands",
    scopes: reads,
    params: accountPath,
    write: false,
    response: Subscription,
    accountParam: 'accountId',
    handle: async (ctx, { params }) => {
      const subscription = await findSubscription(ctx.db.sql, params.accountId);
      if (!subscription) throw new CreditkeeperError('SUBSCRIPTION_NOT_FOUND', `Account ${params.accountId} has no subscription`);
      return subscription;
    },
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/subscription',
    tag: 'Plans',
    summary: "Put the account on a plan (its first allocation lands now), or change plan: same period length prorates, another restarts the cycle",
    scopes: serviceWrites,
    params: accountPath,
    body: fieldsOf(subscribeInput, ledgerSupplied),
    write: 'ledger',
    response: SubscriptionWrite,
    accountParam: 'accountId',
    handle: async (ctx, { params, body, idempotencyKey, actor, origin }) => {
      const { subscription, write } = await subscribe(ctx, { ...body, accountId: params.accountId, idempotencyKey, actor, origin });
      return { replayed: write?.replayed ?? false, subscription, entries: write?.entries ?? [], balance: write?.balance ?? null };
    },
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/subscription/cancel',
    tag: 'Plans',
    summary: 'Cancel: no more grants; credits already granted stay until their period ends',
    scopes: serviceWrites,
    params: accountPath,
    body: z.strictObject({}),
    write: 'stored',
    response: Subscription,
    accountParam: 'accountId',
    handle: (ctx, { params }) => cancelSubscription(ctx, { accountId: params.accountId }),
  }),
];
