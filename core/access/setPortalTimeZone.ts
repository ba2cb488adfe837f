import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { timeZone } from '../input.js';
import { hashSecret } from './createApiToken.js';

export const setPortalTimeZoneInput = z.strictObject({
  /** The session cookie's secret. */
  secret: z.string().max(100),
  /** What the viewer's browser says its zone is (Intl's resolvedOptions().timeZone). */
  browserTimeZone: z.string().max(100),
});

/**
 * The browser's zone replaces the one Creditkeeper guessed, never one the host chose; an unknown zone is
 * ignored, and either way the browser is not asked again.
 */
export async function setPortalTimeZone(ctx: CoreContext, input: z.input<typeof setPortalTimeZoneInput>): Promise<void> {
  const parsed = setPortalTimeZoneInput.safeParse(input);
  if (!parsed.success) return;
  const zone = timeZone.safeParse(parsed.data.browserTimeZone);
  await ctx.db.sql.query(
    `UPDATE portal_sessions SET time_zone = coalesce($2, time_zone), time_zone_source = 'browser'
     WHERE session_hash = $1 AND expires_at > now() AND time_zone_source = 'account'`,
    [hashSecret(parsed.data.secret), zone.success ? zone.data : null],
  );
}
