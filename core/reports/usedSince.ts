import type { CoreContext } from '../context.js';
import type { EntryType } from '../db/generated/enums.js';
import { entryTypes } from '../ledger/entryTypes.js';

/** Entry types that count as usage (and its corrections) in "used". */
export const usageTypes = (Object.keys(entryTypes) as EntryType[]).filter((t) => ['usage', 'usageCorrection'].includes(entryTypes[t].class));

/**
 * Credits used on `account` since `since` (SQL expressions), by when the usage happened: whole quarter hours from the
 * rollups, the first partial one from the entries, so a period starting at 10:07 counts from 10:07 exactly.
 * Columns: used (numeric), transactions (entries of the types in `counted`, a text[] parameter).
 */
export function usedSinceSql(account: string, since: string, types: string, counted: string): string {
  return `SELECT whole.used + partial.used AS used, whole.transactions + partial.transactions AS transactions
    FROM (SELECT date_bin('15 minutes', ${since}, '2000-01-01T00:00:00Z') + interval '15 minutes' AS at) edge
    CROSS JOIN LATERAL (SELECT coalesce(sum(r.used), 0) AS used, coalesce(sum(r.usage_count), 0) AS transactions
                        FROM usage_rollups r WHERE r.account_id = ${account} AND r.period_start >= edge.at) whole
    CROSS JOIN LATERAL (
      SELECT coalesce(-sum(e.amount), 0) AS used, count(*) FILTER (WHERE e.type::text = ANY(${counted})) AS transactions FROM (
        SELECT amount, type FROM entries WHERE account_id = ${account} AND created_at >= ${since} AND created_at < edge.at
          AND occurred_at IS NULL
        UNION ALL
        SELECT amount, type FROM entries WHERE account_id = ${account} AND occurred_at >= ${since} AND occurred_at < edge.at) e
      WHERE e.type::text = ANY(${types})) partial`;
}

/** Credits used since a moment (the breakdown reads the same inside its own statement). */
export async function usedSince(ctx: CoreContext, accountId: string, since: Date): Promise<{ used: bigint; transactions: number }> {
  const [row] = await ctx.db.sql.query<{ used: string; transactions: number }>(
    `SELECT used::text, transactions::int FROM (${usedSinceSql('$1::uuid', '$2::timestamptz', '$3::text[]', '$4::text[]')}) u`,
    [accountId, since, usageTypes, usageTypes.filter((t) => entryTypes[t].class === 'usage')],
  );
  return { used: BigInt(row!.used), transactions: row!.transactions };
}
