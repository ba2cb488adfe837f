import { z } from 'zod';
import { searchAccounts } from '../../core/accounts/searchAccounts.js';
import { listAudit } from '../../core/audit/listAudit.js';
import { readFromReplica } from '../../core/db/readReplica.js';
import { adjust, adjustInput } from '../../core/ledger/adjust.js';
import { writeOff, writeOffInput } from '../../core/ledger/writeOff.js';
import { accountPath, fieldsOf, ledgerSupplied, route, staffOnly } from '../route.js';
import { AccountSummary, AuditPage, LedgerWrite } from '../responses.js';

/** Staff actions: each needs a reason, is done as the staff member the admin token names, and is audited. */
export const staffRoutes = [
  route({
    method: 'get',
    path: '/v1/admin/accounts',
    tag: 'Admin',
    summary: 'Find accounts by id, or by the start of an owner’s external id or name (an organisation-limited token: its organisation’s only)',
    scopes: staffOnly,
    query: z.strictObject({ search: z.string().min(1).max(200), limit: z.coerce.number().int().min(1).max(100).optional() }),
    write: false,
    response: z.array(AccountSummary),
    handle: (ctx, { query, principal }) => readFromReplica(ctx, undefined, (reads) => searchAccounts(reads, query, principal)),
  }),
  route({
    method: 'post',
    path: '/v1/admin/accounts/:accountId/adjustments',
    tag: 'Admin',
    summary: 'Adjust a balance up or down, with a reason',
    scopes: staffOnly,
    params: accountPath,
    body: fieldsOf(adjustInput, ledgerSupplied),
    write: 'ledger',
    response: LedgerWrite,
    status: 201,
    accountParam: 'accountId',
    handle: (ctx, { params, body, idempotencyKey, actor, origin }) =>
      adjust(ctx, { ...body, accountId: params.accountId, idempotencyKey, actor, origin }),
  }),
  route({
    method: 'post',
    path: '/v1/admin/accounts/:accountId/write-offs',
    tag: 'Admin',
    summary: 'Write credits off, with a reason',
    scopes: staffOnly,
    params: accountPath,
    body: fieldsOf(writeOffInput, ledgerSupplied),
    write: 'ledger',
    response: LedgerWrite,
    status: 201,
    accountParam: 'accountId',
    handle: (ctx, { params, body, idempotencyKey, actor, origin }) =>
      writeOff(ctx, { ...body, accountId: params.accountId, idempotencyKey, actor, origin }),
  }),
  route({
    method: 'get',
    path: '/v1/admin/audit',
    tag: 'Admin',
    summary: 'The audit log, newest first, by account, actor and date (an organisation-limited token: rows about its organisation’s accounts only)',
    scopes: staffOnly,
    query: z.strictObject({
      accountId: z.uuid().optional(),
      actorId: z.string().min(1).max(200).optional(),
      from: z.iso.datetime({ offset: true }).optional(),
      to: z.iso.datetime({ offset: true }).optional(),
      pageSize: z.coerce.number().int().min(1).max(200).optional(),
      cursor: z.string().max(200).optional(),
    }),
    write: false,
    response: AuditPage,
    handle: (ctx, { query, principal }) => listAudit(ctx, query, principal),
  }),
];
