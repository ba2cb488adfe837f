import { z } from 'zod';
import { listBalanceThresholds } from '../../core/thresholds/listBalanceThresholds.js';
import { setBalanceThresholds, setBalanceThresholdsInput } from '../../core/thresholds/setBalanceThresholds.js';
import { credits } from '../responses.js';
import { accountPath, reads, route, serviceWrites } from '../route.js';

const levels = setBalanceThresholdsInput.shape.levels;
const Threshold = z.strictObject({ level: credits, percentOfPlan: z.number().int().nullable(), scope: z.enum(['account', 'organisation']) });
const Thresholds = z.strictObject({ levels: z.array(Threshold) });

/** Per-account and per-organisation alert levels: balance.low once per crossing (webhooks). */
export const thresholdRoutes = [
  route({
    method: 'get',
    path: '/v1/accounts/:accountId/balance-thresholds',
    tag: 'Webhooks',
    summary: "The alert levels that apply to an account: its own and its organisation's",
    scopes: reads,
    params: accountPath,
    write: false,
    response: Thresholds,
    accountParam: 'accountId',
    handle: async (ctx, { params }) => ({ levels: await listBalanceThresholds(ctx, { accountId: params.accountId, organisationId: null }) }),
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/balance-thresholds',
    tag: 'Webhooks',
    summary: "Replace an account's alert levels: amounts, or shares of its plan's allocation (resolved now); [] removes them",
    scopes: serviceWrites,
    params: accountPath,
    body: z.strictObject({ levels }),
    write: 'stored',
    response: Thresholds,
    accountParam: 'accountId',
    handle: (ctx, { params, body, principal }) => setBalanceThresholds(ctx, { target: { accountId: params.accountId }, levels: body.levels }, principal),
  }),
  route({
    method: 'post',
    path: '/v1/organisations/:organisationExternalId/balance-thresholds',
    tag: 'Webhooks',
    summary: "Replace an organisation's alert levels (amounts), which apply to its account and its clients'",
    scopes: serviceWrites,
    params: z.strictObject({ organisationExternalId: z.string().min(1).max(200) }),
    body: z.strictObject({ levels }),
    write: 'stored',
    response: Thresholds,
    handle: (ctx, { params, body, principal }) =>
      setBalanceThresholds(ctx, { target: { organisationExternalId: params.organisationExternalId }, levels: body.levels }, principal),
  }),
];
