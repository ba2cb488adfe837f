import type { z } from 'zod';
import { ensureActorMay } from '../access/memberPermission.js';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { futureDate, parseInput } from '../input.js';
import { grant, grantInput } from './grant.js';
import type { WriteResult } from './ledgerWrite.js';
import { type ScheduleResult, scheduleWrite } from './scheduledWrites.js';

export const scheduleGrantInput = grantInput.extend({ effectiveAt: futureDate });

/**
 * A grant dated in the future: its credits land when due (the cron's catch-up), exactly once,
 * as the same entry the grant would write then. A date in the past is refused: history is not rewritten.
 */
export async function scheduleGrant(ctx: CoreContext, input: z.input<typeof scheduleGrantInput>): Promise<ScheduleResult> {
  const { effectiveAt, ...request } = parseInput(scheduleGrantInput, input);
  if (request.expiresAt && request.expiresAt <= effectiveAt) {
    throw new CreditkeeperError('VALIDATION_FAILED', 'expiresAt must come after effectiveAt', { path: 'expiresAt' });
  }
  await ensureActorMay(ctx, request, 'grant');
  return scheduleWrite(ctx, 'grant', request, effectiveAt);
}

/** A grant now or, with `effectiveAt`, when it is due: what HTTP, chat and the admin page offer alike. */
export function grantOrSchedule(ctx: CoreContext, input: z.input<typeof grantInput> & { effectiveAt?: Date | undefined }): Promise<WriteResult | ScheduleResult> {
  const { effectiveAt, ...request } = input;
  return effectiveAt ? scheduleGrant(ctx, { ...request, effectiveAt }) : grant(ctx, request);
}
