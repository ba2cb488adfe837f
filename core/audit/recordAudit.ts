import { z } from 'zod';
import type { CoreContext } from '../context.js';
import type { Prisma } from '../db/generated/client.js';
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
  await ctx.db.prisma.auditEntry.create({
    data: {
      actorKind: entry.actor.kind,
      actorId: entry.actor.id ?? null,
      action: entry.action,
      outcome: entry.outcome,
      accountId: entry.accountId ?? null,
      reason: entry.reason ?? null,
      // Left out when absent: the columns are then SQL NULL, as before (not JSON null).
      ...(entry.origin && { origin: entry.origin }),
      ...(entry.details && { details: entry.details as Prisma.InputJsonObject }),
    },
    select: { id: true },
  });
}
