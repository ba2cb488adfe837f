import { z } from 'zod';
import { ownedByOrganisation, type Reach } from '../access/accountReach.js';
import type { CoreContext } from '../context.js';
import type { ActorKind } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { date, parseInput, uuid } from '../input.js';

export const listAuditInput = z
  .strictObject({
    accountId: uuid.optional(),
    actorId: z.string().min(1).max(200).optional(),
    from: date.optional(),
    to: date.optional(),
    pageSize: z.number().int().min(1).max(200).default(50),
    /** From a previous page's `next`. */
    cursor: z.string().max(200).optional(),
  })
  .refine((q) => !q.from || !q.to || q.from < q.to, { message: 'from must be before to', path: ['to'] });

export interface AuditRow {
  id: string;
  at: Date;
  actor: { kind: ActorKind; id: string | null };
  action: string;
  outcome: string;
  accountId: string | null;
  entryId: string | null;
  reason: string | null;
  origin: Record<string, unknown> | null;
  details: Record<string, unknown> | null;
}

/**
 * The audit log behind the credit log, newest first, filtered by account, actor and date. An
 * organisation-limited reader sees only the rows about its organisation's accounts.
 */
export async function listAudit(
  ctx: CoreContext,
  input: z.input<typeof listAuditInput>,
  reach: Reach,
): Promise<{ rows: AuditRow[]; next: string | null }> {
  const q = parseInput(listAuditInput, input);
  const after = q.cursor ? decodeCursor(q.cursor) : undefined;
  const rows = await ctx.db.sql.query<{
    id: string;
    created_at: Date;
    actor_kind: ActorKind;
    actor_id: string | null;
    action: string;
    outcome: string;
    account_id: string | null;
    entry_id: string | null;
    reason: string | null;
    origin: Record<string, unknown> | null;
    details: Record<string, unknown> | null;
  }>(
    `SELECT id, created_at, actor_kind, actor_id, action, outcome, account_id, entry_id, reason, origin, details
     FROM audit_log
     WHERE ($1::uuid IS NULL OR account_id = $1::uuid) AND ($2::text IS NULL OR actor_id = $2)
       AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)
       AND ($5::timestamptz IS NULL OR (created_at, id) < ($5::timestamptz, $6::uuid))
       AND ($8::uuid IS NULL OR account_id IN (
         SELECT a.id FROM accounts a LEFT JOIN clients c ON c.id = a.client_id WHERE ${ownedByOrganisation('$8::uuid')}))
     ORDER BY created_at DESC, id DESC LIMIT $7`,
    [
      q.accountId ?? null,
      q.actorId ?? null,
      q.from?.toISOString() ?? null,
      q.to?.toISOString() ?? null,
      after?.at ?? null,
      after?.id ?? null,
      q.pageSize + 1,
      reach.organisationId,
    ],
  );
  const page = rows.slice(0, q.pageSize).map((r) => ({
    id: r.id,
    at: new Date(r.created_at),
    actor: { kind: r.actor_kind, id: r.actor_id },
    action: r.action,
    outcome: r.outcome,
    accountId: r.account_id,
    entryId: r.entry_id,
    reason: r.reason,
    origin: r.origin,
    details: r.details,
  }));
  const last = page.at(-1);
  return {
    rows: page,
    next: rows.length > q.pageSize && last ? Buffer.from(JSON.stringify({ at: last.at.toISOString(), id: last.id })).toString('base64url') : null,
  };
}

function decodeCursor(text: string): { at: string; id: string } {
  const parsed = z
    .strictObject({ at: z.iso.datetime(), id: z.uuid() })
    .safeParse((() => {
      try {
        return JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
      } catch {
        return undefined;
      }
    })());
  if (!parsed.success) throw new CreditkeeperError('VALIDATION_FAILED', 'cursor: not a cursor from this log');
  return parsed.data;
}
