import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { nonNegativeCredits, parseInput, positiveCredits, uuid } from '../input.js';

export const setAutoReloadInput = z.strictObject({
  accountId: uuid,
  enabled: z.boolean(),
  /** Credits bought each time (seed 002: "A recent +50 might be Auto Reload"). */
  amount: positiveCredits.default(50n),
  /** Credits auto-reload may buy in one calendar month (UTC); 0 stops it without turning it off. */
  monthlyLimit: nonNegativeCredits.default(500n),
});

export interface AutoReload {
  accountId: string;
  enabled: boolean;
  amount: bigint;
  monthlyLimit: bigint;
  /** Bought by auto-reload so far this calendar month. */
  usedThisMonth: bigint;
}

/** Turns auto-reload on or off for an account, with its top-up amount and monthly limit. */
export async function setAutoReload(ctx: CoreContext, input: z.input<typeof setAutoReloadInput>): Promise<AutoReload> {
  const { accountId, enabled, amount, monthlyLimit } = parseInput(setAutoReloadInput, input);
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
       (SELECT coalesce(sum(e.amount), 0) FROM entries e WHERE e.account_id = s.account_id AND e.type = 'AUTO_RELOAD'
          AND e.created_at >= date_trunc('month', clock_timestamp() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS used
     FROM auto_reload_settings s WHERE s.account_id = $1::uuid`,
    [accountId],
  );
  return row
    ? { accountId, enabled: row.enabled, amount: BigInt(row.amount), monthlyLimit: BigInt(row.monthly_limit), usedThisMonth: BigInt(row.used) }
    : null;
}
