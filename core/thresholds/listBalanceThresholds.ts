import type { CoreContext } from '../context.js';

export interface BalanceThreshold {
  level: bigint;
  percentOfPlan: number | null;
  /** Set on the account itself, or on its organisation (applies to all its accounts). */
  scope: 'account' | 'organisation';
}

/** The levels that apply to an account (its own and its organisation's), or an organisation's own, lowest first. */
export async function listBalanceThresholds(
  ctx: CoreContext,
  owner: { accountId: string | null; organisationId: string | null },
): Promise<BalanceThreshold[]> {
  const rows = await ctx.db.sql.query<{ level: string; percent_of_plan: number | null; scope: 'account' | 'organisation' }>(
    `SELECT t.level::text AS level, t.percent_of_plan, CASE WHEN t.account_id IS NULL THEN 'organisation' ELSE 'account' END AS scope
     FROM balance_thresholds t
     WHERE t.account_id = $1::uuid
        OR t.organisation_id = coalesce($2::uuid, (SELECT coalesce(a.organisation_id, c.organisation_id) FROM accounts a LEFT JOIN clients c ON c.id = a.client_id WHERE a.id = $1::uuid))
     ORDER BY t.level, scope`,
    [owner.accountId, owner.organisationId],
  );
  return rows.map((r) => ({ level: BigInt(r.level), percentOfPlan: r.percent_of_plan, scope: r.scope }));
}
