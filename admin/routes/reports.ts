import { z } from 'zod';
import { EntryType } from '../../core/db/generated/enums.js';
import { readFromReplica, streamFromReplica } from '../../core/db/readReplica.js';
import { timeZone } from '../../core/input.js';
import { getActivity } from '../../core/reports/activity.js';
import { getActivityGroup } from '../../core/reports/activityGroup.js';
import { getBalanceAt } from '../../core/reports/balanceAt.js';
import { getBalanceBreakdown } from '../../core/reports/balanceBreakdown.js';
import { getDailyUsage } from '../../core/reports/dailyUsage.js';
import { exportActivityCsv } from '../../core/reports/exportActivity.js';
import { getMonthlySummary } from '../../core/reports/monthlySummary.js';
import { explainBalance } from '../../core/reports/why.js';
import { accountPath, reads, route } from '../route.js';
import { ActivityPage, Balance, BalanceAt, DailyUsage, Entry, MonthlySummary, WhyExplanation, csvText } from '../responses.js';

/** Query strings carry text: these schemas turn it into what the core use-cases take. */
const date = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' }).or(z.iso.date());
const activityFilters = {
  filter: z.enum(['ALL', 'ADDED', 'USED', 'ADJUSTMENTS']).optional(),
  types: z
    .string()
    .max(1000)
    .transform((list) => list.split(','))
    .pipe(z.array(z.enum(Object.values(EntryType) as [EntryType, ...EntryType[]])))
    .optional(),
  category: z.string().max(100).optional(),
  sourceKind: z.string().max(50).optional(),
  sourceId: z.string().max(200).optional(),
  from: date.optional(),
  to: date.optional(),
};
const activityFilterQuery = z.strictObject(activityFilters);
type ActivityFilterQuery = z.infer<typeof activityFilterQuery>;

function filterOf(query: ActivityFilterQuery) {
  return {
    ...(query.filter && { filter: query.filter }),
    ...(query.types && { types: query.types }),
    ...(query.category && { category: query.category }),
    ...((query.sourceKind || query.sourceId) && {
      source: { ...(query.sourceKind && { kind: query.sourceKind }), ...(query.sourceId && { id: query.sourceId }) },
    }),
    ...(query.from && { from: query.from }),
    ...(query.to && { to: query.to }),
  };
}

const pageSize = z.coerce.number().int().min(1).max(100).optional();

export const reportRoutes = [
  route({
    method: 'get',
    path: '/v1/accounts/:accountId/balance',
    tag: 'Reports',
    summary:
      'The balance breakdown (/credits): available, per kind with expiries, outstanding, in flight, used this month; with `at`, the balance and each bucket as they stood at that instant',
    scopes: reads,
    params: accountPath,
    query: z.strictObject({ timeZone: timeZone.optional(), at: date.optional() }),
    write: false,
    response: Balance.or(BalanceAt),
    accountParam: 'accountId',
    handle: (ctx, { params, query: { at, ...query } }) =>
      at ? getBalanceAt(ctx, { accountId: params.accountId, at }) : getBalanceBreakdown(ctx, { ...query, accountId: params.accountId }),
  }),
  route({
    method: 'get',
    path: '/v1/accounts/:accountId/activity',
    tag: 'Reports',
    summary: 'The activity log, newest first: the All / Added / Used / Adjustments filters, grouped usage rows, cursor pages of 25',
    scopes: reads,
    params: accountPath,
    query: z.strictObject({ ...activityFilters, pageSize, cursor: z.string().max(200).optional() }),
    write: false,
    response: ActivityPage,
    accountParam: 'accountId',
    handle: (ctx, { params, query }) =>
      readFromReplica(ctx, params.accountId, (reads) =>
        getActivity(reads, {
          accountId: params.accountId,
          ...filterOf(query),
          ...(query.pageSize && { pageSize: query.pageSize }),
          ...(query.cursor && { cursor: query.cursor }),
        }),
      ),
  }),
  route({
    method: 'get',
    path: '/v1/accounts/:accountId/activity/groups/:seq',
    tag: 'Reports',
    summary: 'The entries behind one activity row',
    scopes: reads,
    params: accountPath.extend({ seq: z.string().regex(/^\d{1,19}$/, 'must be a row number') }),
    write: false,
    response: z.array(Entry),
    accountParam: 'accountId',
    handle: (ctx, { params }) => readFromReplica(ctx, params.accountId, (reads) => getActivityGroup(reads, params)),
  }),
  route({
    method: 'get',
    path: '/v1/accounts/:accountId/activity.csv',
    tag: 'Reports',
    summary: 'The activity log as CSV, one line per entry, oldest first (same filters as the log)',
    scopes: reads,
    params: accountPath,
    query: activityFilterQuery,
    write: false,
    response: csvText,
    accountParam: 'accountId',
    handle: async (ctx, { params, query }) => ({
      csv: streamFromReplica(ctx, params.accountId, (reads) => exportActivityCsv(reads, { accountId: params.accountId, ...filterOf(query) })),
    }),
  }),
  route({
    method: 'get',
    path: '/v1/accounts/:accountId/usage/daily',
    tag: 'Reports',
    summary: 'Daily usage over the last 30 days (or `days`) in the user’s time zone, with total and average',
    scopes: reads,
    params: accountPath,
    query: z.strictObject({ timeZone: timeZone.optional(), days: z.coerce.number().int().min(1).max(366).optional() }),
    write: false,
    response: DailyUsage,
    accountParam: 'accountId',
    handle: (ctx, { params, query }) => readFromReplica(ctx, params.accountId, (reads) => getDailyUsage(reads, { ...query, accountId: params.accountId })),
  }),
  route({
    method: 'get',
    path: '/v1/accounts/:accountId/usage/monthly',
    tag: 'Reports',
    summary: 'Usage and usage transactions this month and the previous three',
    scopes: reads,
    params: accountPath,
    query: z.strictObject({ timeZone: timeZone.optional() }),
    write: false,
    response: MonthlySummary,
    accountParam: 'accountId',
    handle: (ctx, { params, query }) => readFromReplica(ctx, params.accountId, (reads) => getMonthlySummary(reads, { ...query, accountId: params.accountId })),
  }),
  route({
    method: 'get',
    path: '/v1/accounts/:accountId/why',
    tag: 'Reports',
    summary: '/why: the balance explained since the last grant (or `since`), optionally against an expected balance',
    scopes: reads,
    params: accountPath,
    query: z.strictObject({ since: date.optional(), expectedBalance: z.string().regex(/^\d{1,16}$/, 'must be a whole number').optional() }),
    write: false,
    response: WhyExplanation,
    accountParam: 'accountId',
    handle: (ctx, { params, query }) =>
      readFromReplica(ctx, params.accountId, (reads) =>
        explainBalance(reads, {
          accountId: params.accountId,
          ...(query.since && { since: query.since }),
          ...(query.expectedBalance && { expectedBalance: query.expectedBalance }),
        }),
      ),
  }),
];
