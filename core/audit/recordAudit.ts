import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { actor, origin, parseInput, uuid } from '../input.js';

export const recordAuditInput = z.strictObject({
  actor,
  action: z.string().min(1).max(100),
  /** 'done', or why it was refused ('denied: not staff'…). */
  outcome: z.string().min(1).max(200),
  accountId: uuid.optional(),
  reason: z.string().max(500).optional(),
  origin: origin.optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

/**
 * Records a staff or admin action that is not a ledger write (tokens, sign-ins) or that was
 * refused. Ledger writes by staff are recorded by the write itself, in the same statement.
 */
export async function recordAudit(ctx: CoreContext, input: z.input<typeof recordAuditInput>): Promise<void> {
  const entry = parseInput(recordAuditInput, input);
  await ctx.db.sql.query(
    `INSERT INTO audit_log (actor_kind, actor_id, action, outcome, account_id, reason, origin, details)
     VALUES ($1::"ActorKind", $2, $3, $4, $5::uuid, $6, $7::jsonb, $8::jsonb)`,
    [
      entry.actor.kind,
      entry.actor.id ?? null,
      entry.action,
      entry.outcome,
      entry.accountId ?? null,
      entry.reason ?? null,
      entry.origin ? JSON.stringify(entry.origin) : null,
      entry.details ? JSON.stringify(entry.details) : null,
    ],
  );
}
