import { z } from 'zod';
import { ensureActorMay } from '../access/memberPermission.js';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { actor, nonNegativeCredits, origin, parseInput, positiveCredits, uuid } from '../input.js';

export const setAutoReloadInput = z.strictObject({
  accountId: uuid,
  enabled: z.boolean(),
  /** Credits bought each time ("A recent +50 might be Auto Reload"). */
  amount: positiveCredits.default(50n),
  /** Credits auto-reload may buy in one calendar month (UTC); 0 stops it without turning it off. */
  monthlyLimit: nonNegativeCredits.default(500n),
  /** A member (USER) changing it must be an admin or owner of the account's organisation. */
  actor: actor.default({ kind: 'SERVICE' }),
  origin: origin.optional(),
});

export interface AutoReload {
  accountId: string;
  enabled: boolean;
  amount: bigint;
  monthlyLimit: bigint;
  /** Reserved by auto-reload this calendar month: top-ups bought, being charged, or of unknown outcome. */
  usedThisMonth: bigint;
}

/** The start of this calendar month (UTC), in SQL: auto-reload's limit counts from it. */
export const monthStartSql = "date_trunc('month', clock_timestamp() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'";

/** Turns auto-reload on or off for an account, with its top-up amount and monthly limit. */
export async function setAutoReload(ctx: CoreContext, input: z.input<typeof setAutoReloadInput>): Promise<AutoReload> {
  const request = parseInput(setAutoReloadInput, input);
  const { accountId, enabled, amount, monthlyLimit } = request;
  await ensureActorMay(ctx, request, 'autoReload');
  const [saved] = await ctx.db.sql.query<{ account_id: string }>(
    `INSERT INTO auto_reload_settings (account_id, enabled, amount, monthly_limit)
     SELECT id, $2, $3, $4 FROM accounts WHERE id = $1::uuid
     ON CONFLICT (account_id) DO UPDATE SET enabled = EXCLUDED.enabled, amount = EXCLUDED.amount,
       monthly_limit = EXCLUDED.monthly_limit, updated_at = clock_timestamp()
     RETURNING account_id`,
    [accountId, enabled, amount.toString(), monthlyLimit.toString()],
  );
  if (!saved) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${accountId}`);
  return (await getAutoReload(ctx, accountId))!;
}

/** An account's auto-reload, or null when it was never set (off). */
export async function getAutoReload(ctx: CoreContext, accountId: string): Promise<AutoReload | null> {
  const [row] = await ctx.db.sql.query<{ enabled: boolean; amount: string; monthly_limit: string; used: string }>(
    `SELECT s.enabled, s.amount, s.monthly_limit,
       (SELECT coalesce(sum(r.credits), 0) FROM auto_reload_reservations r
        WHERE r.account_id = s.account_id AND r.status <> 'DECLINED' AND r.reserved_at >= ${monthStartSql}) AS used
     FROM auto_reload_settings s WHERE s.account_id = $1::uuid`,
    [accountId],
  );
  return row
    ? { accountId, enabled: row.enabled, amount: BigInt(row.amount), monthlyLimit: BigInt(row.monthly_limit), usedThisMonth: BigInt(row.used) }
    : null;
}
