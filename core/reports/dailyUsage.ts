import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { parseInput, timeZone, uuid } from '../input.js';
import { inTimeZone, reportTimeZone } from './timeZone.js';

export const dailyUsageInput = z.strictObject({
  accountId: uuid,
  /** Defaults to the account owner's time zone. */
  timeZone: timeZone.optional(),
  days: z.number().int().min(1).max(366).default(30),
});

export interface DailyUsage {
  timeZone: string;
  /** Oldest first, one per day of the user's calendar, zero days included. */
  days: { date: string; used: bigint; transactions: number }[];
  total: bigint;
  /** For display: the total spread over every day of the window. */
  averagePerDay: number;
}

/**
 * Daily credit usage over the last 30 days (today included), in the user's time zone,
 * with the total and the average per day. Reads the quarter-hour rollups, never the log.
 */
export async function getDailyUsage(ctx: CoreContext, input: z.input<typeof dailyUsageInput>): Promise<DailyUsage> {
  const request = parseInput(dailyUsageInput, input);
  const zone = await reportTimeZone(ctx, request.accountId, request.timeZone);
  const rows = await inTimeZone(zone, () =>
    ctx.db.sql.query<{ date: string; used: string; transactions: number }>(
      `WITH bounds AS (
         SELECT date_trunc('day', now() AT TIME ZONE $2) - make_interval(days => $3 - 1) AS first_day,
                date_trunc('day', now() AT TIME ZONE $2) AS today),
       days AS (SELECT generate_series(first_day, today, interval '1 day') AS day FROM bounds),
       usage AS (
         SELECT date_trunc('day', r.period_start AT TIME ZONE $2) AS day, sum(r.used) AS used,
           sum(r.usage_count) AS transactions
         FROM usage_rollups r, bounds
         WHERE r.account_id = $1::uuid AND r.period_start >= (bounds.first_day AT TIME ZONE $2)
         GROUP BY 1)
       SELECT to_char(days.day, 'YYYY-MM-DD') AS date, coalesce(usage.used, 0)::text AS used,
         coalesce(usage.transactions, 0)::int AS transactions
       FROM days LEFT JOIN usage USING (day) ORDER BY days.day`,
      [request.accountId, zone, request.days],
    ),
  );
  const days = rows.map((r) => ({ date: r.date, used: BigInt(r.used), transactions: r.transactions }));
  const total = days.reduce((sum, d) => sum + d.used, 0n);
  return { timeZone: zone, days, total, averagePerDay: Math.round((Number(total) / days.length) * 100) / 100 };
}
