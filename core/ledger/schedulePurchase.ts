import type { z } from 'zod';
import { ensureActorMay } from '../access/memberPermission.js';
import type { CoreContext } from '../context.js';
import { futureDate, parseInput } from '../input.js';
import { purchaseInput } from './purchase.js';
import { type ScheduleResult, scheduleWrite } from './scheduledWrites.js';

export const schedulePurchaseInput = purchaseInput.extend({ effectiveAt: futureDate });

/** A purchase dated in the future (a prepaid top-up that starts on a date): lands when due, exactly once. */
export async function schedulePurchase(ctx: CoreContext, input: z.input<typeof schedulePurchaseInput>): Promise<ScheduleResult> {
  const { effectiveAt, ...request } = parseInput(schedulePurchaseInput, input);
  await ensureActorMay(ctx, request, 'purchase');
  return scheduleWrite(ctx, 'purchase', request, effectiveAt);
}
