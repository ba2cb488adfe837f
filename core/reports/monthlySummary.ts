import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { parseInput, timeZone, uuid } from '../input.js';
import { inTimeZone, reportTimeZone } from './timeZone.js';

export const monthlySummaryInput = z.strictObject({
  accountId: uuid,
  timeZone: timeZone.optional(),
});

export interface MonthlySummary {
  timeZone: string;
  /** The current month first (marked current: it is still growing), then the three before it. */
  months: { month: string; current: boolean; used: bigint; transactions: number }[];
}

/** Usage and the number of usage transactions, this month and the previous three. */
export async function getMonthlySummary(ctx: CoreContext, input: z.input<typeof monthlySummaryInput>): Promise<MonthlySummary> {
  const request = parseInput(monthlySummaryInput, input);
  const zone = await reportTimeZone(ctx, request.accountId, request.timeZone);
  const rows = await inTimeZone(zone, () =>
    ctx.db.sql.query<{ month: string; current: boolean; used: string; transactions: number }>(
      `WITH bounds AS (SELECT date_trunc('month', now() AT TIME ZONE $2) AS this_month),
       months AS (
         SELECT generate_series(this_month - interval '3 months', this_month, interval '1 month') AS month FROM bounds),
       usage AS (
         SELECT date_trunc('month', r.period_start AT TIME ZONE $2) AS month, sum(r.used) AS used,
           sum(r.usage_count) AS transactions
         FROM usage_rollups r, bounds
         WHERE r.account_id = $1::uuid AND r.period_start >= ((bounds.this_month - interval '3 months') AT TIME ZONE $2)
         GROUP BY 1)
       SELECT to_char(months.month, 'YYYY-MM') AS month, months.month = bounds.this_month AS current,
         coalesce(usage.used, 0)::text AS used, coalesce(usage.transactions, 0)::int AS transactions
       FROM months CROSS JOIN bounds LEFT JOIN usage USING (month) ORDER BY months.month DESC`,
      [request.accountId, zone],
    ),
  );
  return {
    timeZone: zone,
    months: rows.map((r) => ({ month: r.month, current: r.current, used: BigInt(r.used), transactions: r.transactions })),
  };
}
