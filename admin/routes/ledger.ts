import { z } from 'zod';
import { ensureActorMay } from '../../core/access/memberPermission.js';
import { futureDate } from '../../core/input.js';
import { cancelScheduledWrite, cancelScheduledWriteInput } from '../../core/ledger/cancelScheduledWrite.js';
import { grantInput } from '../../core/ledger/grant.js';
import { purchase, purchaseInput } from '../../core/ledger/purchase.js';
import { quoteUsage, quoteUsageInput } from '../../core/ledger/quoteUsage.js';
import { reconcileDeposit, reconcileDepositInput } from '../../core/ledger/reconcileDeposit.js';
import { refund, refundInput } from '../../core/ledger/refund.js';
import { reversePurchase, reversePurchaseInput } from '../../core/ledger/reversePurchase.js';
import { spend, spendInput } from '../../core/ledger/spend.js';
import { voidDeposit, voidDepositInput } from '../../core/ledger/voidDeposit.js';
import { listScheduledWrites } from '../../core/ledger/listScheduledWrites.js';
import { grantOrSchedule } from '../../core/ledger/scheduleGrant.js';
import { schedulePurchase } from '../../core/ledger/schedulePurchase.js';
import { voidGrant, voidGrantInput } from '../../core/ledger/voidGrant.js';
import { accountPath, dryRunQuery, fieldsOf, ledgerSupplied, reads, route, serviceOrStaffWrites, serviceWrites } from '../route.js';
import { LedgerWrite, Scheduled, ScheduledList, ScheduledWrite, UsageQuote, UsageWrite } from '../responses.js';

/** The host product's writes: each one ledger operation on one account. */
const id = z.uuid({ message: 'must be an id' });
const entryPath = accountPath.extend({ entryId: id });
const depositPath = accountPath.extend({ depositId: id });
const scheduledPath = accountPath.extend({ scheduledId: id });

export const ledgerRoutes = [
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/usage',
    tag: 'Ledger',
    summary: 'Charge usage, by price-list action (image, submission…) or explicit amount; a submission opens a deposit. With ?dryRun=true: what POST …/quote answers, writing nothing',
    scopes: serviceWrites,
    params: accountPath,
    query: dryRunQuery,
    body: fieldsOf(spendInput, ledgerSupplied),
    write: 'ledger',
    response: UsageWrite,
    dryRun: UsageQuote,
    status: 201,
    accountParam: 'accountId',
    handle: async (ctx, { params, body, idempotencyKey, actor, origin, dryRun }) => {
      if (!dryRun) return spend(ctx, { ...body, accountId: params.accountId, idempotencyKey, actor, origin });
      // Refused to whom the spend refuses (a viewer): a dry run answers as the write would.
      await ensureActorMay(ctx, { accountId: params.accountId, actor, origin }, 'spend');
      const { note: _note, ...usage } = body; // a note changes nothing the quote answers
      return quoteUsage(ctx, { ...usage, accountId: params.accountId, actor });
    },
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/quote',
    tag: 'Ledger',
    summary: 'What a usage charge would do now, writing nothing: its cost, the balance after, the buckets it draws, an auto-reload it would need, or the refusal a spend would get (same body as …/usage, no key)',
    scopes: reads,
    params: accountPath,
    body: fieldsOf(quoteUsageInput, ['accountId', 'actor'] as const),
    write: false,
    response: UsageQuote,
    accountParam: 'accountId',
    handle: (ctx, { params, body, actor }) => quoteUsage(ctx, { ...body, accountId: params.accountId, actor }),
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/purchases',
    tag: 'Ledger',
    summary: 'Add purchased credits (a top-up or an auto-reload); they never expire. With effectiveAt (future), they land then: the reply is the schedule',
    scopes: serviceWrites,
    params: accountPath,
    body: fieldsOf(purchaseInput.extend({ effectiveAt: futureDate.optional() }), ledgerSupplied),
    write: 'ledger',
    response: LedgerWrite.or(ScheduledWrite),
    status: 201,
    accountParam: 'accountId',
    handle: (ctx, { params, body: { effectiveAt, ...body }, idempotencyKey, actor, origin }) => {
      const request = { ...body, accountId: params.accountId, idempotencyKey, actor, origin };
      return effectiveAt ? schedulePurchase(ctx, { ...request, effectiveAt }) : purchase(ctx, request);
    },
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/purchases/:entryId/reversal',
    tag: 'Ledger',
    summary: 'Reverse a purchase (affiliate refund): its credits are taken back, what was spent becomes outstanding',
    scopes: serviceWrites,
    params: entryPath,
    body: fieldsOf(reversePurchaseInput, [...ledgerSupplied, 'entryId']),
    write: 'ledger',
    response: LedgerWrite,
    status: 201,
    accountParam: 'accountId',
    handle: (ctx, { params, body, idempotencyKey, actor, origin }) =>
      reversePurchase(ctx, { ...body, ...params, idempotencyKey, actor, origin }),
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/grants',
    tag: 'Ledger',
    summary: 'Grant credits into a new bucket: plan and weekly grants, rewards, bonuses; staff give a reason (manual credits always)',
    scopes: serviceOrStaffWrites,
    params: accountPath,
    body: fieldsOf(grantInput.extend({ effectiveAt: futureDate.optional() }), ledgerSupplied),
    write: 'ledger',
    response: LedgerWrite.or(ScheduledWrite),
    status: 201,
    accountParam: 'accountId',
    handle: (ctx, { params, body, idempotencyKey, actor, origin }) => grantOrSchedule(ctx, { ...body, accountId: params.accountId, idempotencyKey, actor, origin }),
  }),
  route({
    method: 'get',
    path: '/v1/accounts/:accountId/scheduled',
    tag: 'Ledger',
    summary: 'The dated grants and purchases still to land on this account, soonest first (at most 100)',
    scopes: reads,
    params: accountPath,
    write: false,
    response: ScheduledList,
    accountParam: 'accountId',
    handle: (ctx, { params }) => listScheduledWrites(ctx, params),
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/scheduled/:scheduledId/cancel',
    tag: 'Ledger',
    summary: 'Cancel a dated grant or purchase before it is due: it never lands (once due, 409 ALREADY_LANDED: void the grant instead); staff give a reason',
    scopes: serviceOrStaffWrites,
    params: scheduledPath,
    body: fieldsOf(cancelScheduledWriteInput, ['accountId', 'scheduledId', 'actor', 'origin']),
    write: 'stored',
    response: Scheduled,
    accountParam: 'accountId',
    handle: (ctx, { params, body, actor, origin }) => cancelScheduledWrite(ctx, { ...body, ...params, actor, origin }),
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/grants/:entryId/void',
    tag: 'Ledger',
    summary: "Void one grant, reward or purchase: what is left of its credits leaves with a VOID entry naming it (what was spent stays spent); staff give a reason",
    scopes: serviceOrStaffWrites,
    params: entryPath,
    body: fieldsOf(voidGrantInput, [...ledgerSupplied, 'entryId']),
    write: 'ledger',
    response: LedgerWrite,
    status: 201,
    accountParam: 'accountId',
    handle: (ctx, { params, body, idempotencyKey, actor, origin }) => voidGrant(ctx, { ...body, ...params, idempotencyKey, actor, origin }),
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/refunds',
    tag: 'Ledger',
    summary: 'Refund all or part of a usage entry, back to the buckets it drew from; staff give a reason',
    scopes: serviceOrStaffWrites,
    params: accountPath,
    body: fieldsOf(refundInput, ledgerSupplied),
    write: 'ledger',
    response: LedgerWrite,
    status: 201,
    accountParam: 'accountId',
    handle: (ctx, { params, body, idempotencyKey, actor, origin }) =>
      refund(ctx, { ...body, accountId: params.accountId, idempotencyKey, actor, origin }),
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/deposits/:depositId/reconciliation',
    tag: 'Ledger',
    summary: 'Reconcile a deposit after delivery: refund the unused part, charge the extra, or record it outstanding',
    scopes: serviceWrites,
    params: depositPath,
    body: fieldsOf(reconcileDepositInput, [...ledgerSupplied, 'depositId']),
    write: 'ledger',
    response: LedgerWrite,
    status: 201,
    accountParam: 'accountId',
    handle: (ctx, { params, body, idempotencyKey, actor, origin }) =>
      reconcileDeposit(ctx, { ...body, ...params, idempotencyKey, actor, origin }),
  }),
  route({
    method: 'post',
    path: '/v1/accounts/:accountId/deposits/:depositId/void',
    tag: 'Ledger',
    summary: 'Cancel an in-flight deposit: everything it charged comes back',
    scopes: serviceWrites,
    params: depositPath,
    body: fieldsOf(voidDepositInput, [...ledgerSupplied, 'depositId']),
    write: 'ledger',
    response: LedgerWrite,
    status: 201,
    accountParam: 'accountId',
    handle: (ctx, { params, body, idempotencyKey, actor, origin }) =>
      voidDeposit(ctx, { ...body, ...params, idempotencyKey, actor, origin }),
  }),
];
