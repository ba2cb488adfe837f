import { z } from 'zod';

/**
 * A paging button's value: who ran the command (only they may page), the filter, the cursor and any other
 * account, so no state is kept between presses.
 */
const activityButtonValue = z.strictObject({
  caller: z.string().min(1).max(100),
  filter: z.string().min(1).max(20),
  page: z.string().min(1).max(200),
  account: z.string().min(1).max(401).optional(),
});
export type ActivityButtonValue = z.infer<typeof activityButtonValue>;

export const activityActionIds = { previous: 'activity_previous', next: 'activity_next' } as const;
export const activityActionPattern = /^activity_(previous|next)$/;

export function activityButtonValueText(value: ActivityButtonValue): string {
  return JSON.stringify(value);
}

/** The pressed button's value, or null when it is not one of ours. */
export function parseActivityButtonValue(text: string | undefined): ActivityButtonValue | null {
  try {
    return activityButtonValue.parse(JSON.parse(text ?? ''));
  } catch {
    return null;
  }
}
