import type { CoreContext } from '../context.js';
import type { EntryType } from '../db/generated/enums.js';
import { entryTypes } from '../ledger/entryTypes.js';

const usageTypes = (Object.keys(entryTypes) as EntryType[]).filter((t) => ['usage', 'usageCorrection'].includes(entryTypes[t].class));

/**
 * Credits used on an account since a moment (a billing period's start), counted as the rollups
 * count them. Whole quarter hours come from the rollups; the part of the first quarter hour after
 * `since` from the entries themselves, so a period starting at 10:07 counts from 10:07 exactly.
 */
export async function usedSince(ctx: CoreContext, accountId: string, since: Date): Promise<{ used: bigint; transactions: number }> {
  const [row] = await ctx.db.sql.query<{ used: string; transactions: number }>(
    `WITH edge AS (SELECT date_bin('15 minutes', $2::timestamptz, '2000-01-01T00:00:00Z') + interval '15 minutes' AS at)
     SELECT (coalesce((SELECT sum(used) FROM usage_rollups, edge WHERE account_id = $1::uuid AND period_start >= edge.at), 0)
           - coalesce((SELECT sum(amount) FROM entries, edge WHERE account_id = $1::uuid AND created_at >= $2 AND created_at < edge.at
                         AND type::text = ANY($3::text[])), 0))::text AS used,
            (coalesce((SELECT sum(usage_count) FROM usage_rollups, edge WHERE account_id = $1::uuid AND period_start >= edge.at), 0)
           + (SELECT count(*) FROM entries, edge WHERE account_id = $1::uuid AND created_at >= $2 AND created_at < edge.at
                AND type::text = ANY($4::text[])))::int AS transactions`,
    [accountId, since, usageTypes, usageTypes.filter((t) => entryTypes[t].class === 'usage')],
  );
  return { used: BigInt(row!.used), transactions: row!.transactions };
}
