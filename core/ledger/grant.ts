import { z } from 'zod';
import { ensureActorMay } from '../access/memberPermission.js';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { futureDate, ledgerWriteBase, note, parseInput, positiveCredits, reasonRequired, source, staffGivesReason } from '../input.js';
import { defaultPriority, entryTypes, grantTypes, type rewardTypes } from './entryTypes.js';
import { ledgerWrite, type WriteResult } from './ledgerWrite.js';

export const grantInput = z
  .strictObject({
    ...ledgerWriteBase,
    type: z.enum(grantTypes),
    bucket: z.enum(['PLAN', 'WEEKLY', 'BONUS', 'REWARD', 'PROMO']),
    amount: positiveCredits,
    expiresAt: futureDate.optional(),
    priority: z.number().int().min(0).max(1000).optional(),
    description: z.string().trim().min(1).max(200).optional(),
    source: source.optional(),
    reason: note.optional(),
  })
  // A manual credit always needs a reason, whoever posts it.
  .refine((g) => staffGivesReason(g) && (g.type !== 'MANUAL_CREDIT' || g.reason !== undefined), reasonRequired);

/** A grant as the reward flows post it: the same bucket and entry, with a reward's type. */
export type GrantRequest = Omit<z.infer<typeof grantInput>, 'type'> & { type: (typeof grantTypes)[number] | (typeof rewardTypes)[number] };

/** Adds credits in a new bucket: plan and weekly grants, bonuses, manual credits. */
export async function grant(ctx: CoreContext, input: z.input<typeof grantInput>): Promise<WriteResult> {
  const request = parseInput(grantInput, input);
  await ensureActorMay(ctx, request, 'grant');
  return writeGrant(ctx, request);
}

/** A grant already validated and allowed: the link reward pays through here, under its once-only claim. */
export function writeGrant(ctx: CoreContext, request: GrantRequest): Promise<WriteResult> {
  return ledgerWrite(ctx, {
    accountId: request.accountId,
    idempotencyKey: request.idempotencyKey,
    operation: 'grant',
    request,
    batchable: true,
    write: (ledger) => {
      const expiresAt = request.expiresAt ?? null;
      if (expiresAt && ledger.isExpired({ expiresAt })) {
        throw new CreditkeeperError('VALIDATION_FAILED', 'expiresAt must be in the future', { path: 'expiresAt' });
      }
      ledger.post({
        type: request.type,
        description: request.description ?? entryTypes[request.type].label,
        movements: [ledger.addBucket(request.bucket, request.amount, expiresAt, request.priority ?? defaultPriority[request.bucket])],
        source: request.source,
        actor: request.actor,
        note: request.reason,
      });
    },
  });
}
