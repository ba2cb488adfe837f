import type { CoreContext } from '../context.js';
import type { EntryType } from '../db/generated/enums.js';
import { entryTypes } from '../ledger/entryTypes.js';

const usageTypes = (Object.keys(entryTypes) as EntryType[]).filter((t) => ['usage', 'usageCorrection'].includes(entryTypes[t].class));

/**
 * Credits used since a moment, by when the usage happened: whole quarter hours from the rollups, the first
 * partial one from the entries, so a period starting at 10:07 counts from 10:07 exactly.
 */
export async function usedSince(ctx: CoreContext, accountId: string, since: Date): Promise<{ used: bigint; transactions: number }> {
  const [row] = await ctx.db.sql.query<{ used: string; transactions: number }>(
    `WITH edge AS (SELECT date_bin('15 minutes', $2::timestamptz, '2000-01-01T00:00:00Z') + interval '15 minutes' AS at),
     whole AS (SELECT coalesce(sum(r.used), 0) AS used, coalesce(sum(r.usage_count), 0) AS transactions
               FROM usage_rollups r, edge WHERE r.account_id = $1::uuid AND r.period_start >= edge.at),
     partial AS (SELECT coalesce(-sum(e.amount), 0) AS used, count(*) FILTER (WHERE e.type::text = ANY($4::text[])) AS transactions
                 FROM edge CROSS JOIN LATERAL (
                   SELECT amount, type FROM entries WHERE account_id = $1::uuid AND created_at >= $2 AND created_at < edge.at
                     AND occurred_at IS NULL
                   UNION ALL
                   SELECT amount, type FROM entries WHERE account_id = $1::uuid AND occurred_at >= $2 AND occurred_at < edge.at) e
                 WHERE e.type::text = ANY($3::text[]))
     SELECT (whole.used + partial.used)::text AS used, (whole.transactions + partial.transactions)::int AS transactions FROM whole, partial`,
    [accountId, since, usageTypes, usageTypes.filter((t) => entryTypes[t].class === 'usage')],
  );
  return { used: BigInt(row!.used), transactions: row!.transactions };
}
