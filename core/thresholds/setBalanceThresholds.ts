import { z } from 'zod';
import { ensureAccountInReach, ensureOrganisationInReach, organisationIdOf, type Reach } from '../access/accountReach.js';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput, positiveCredits } from '../input.js';
import { findPlan } from '../plans/planCatalog.js';
import { findSubscription } from '../plans/subscriptionRecord.js';
import { type BalanceThreshold, listBalanceThresholds } from './listBalanceThresholds.js';

const levelInput = z.union([
  z.strictObject({ amount: positiveCredits }),
  /** A share of the account's plan allocation, resolved to credits now (set again after a plan change). */
  z.strictObject({ percentOfPlan: z.number().int().min(1).max(100) }),
]);

export const setBalanceThresholdsInput = z.strictObject({
  target: z.union([z.strictObject({ accountId: z.uuid() }), z.strictObject({ organisationExternalId: z.string().min(1).max(200) })]),
  /** Replaces the target's levels; [] removes them. */
  levels: z.array(levelInput).max(10),
});

/**
 * Alert levels of an account or an organisation (its own and its clients'); balance.low fires once per crossing
 * below a level (the entries' trigger; README, Alert levels).
 */
export async function setBalanceThresholds(
  ctx: CoreContext,
  input: z.input<typeof setBalanceThresholdsInput>,
  reach: Reach,
): Promise<{ levels: BalanceThreshold[] }> {
  const request = parseInput(setBalanceThresholdsInput, input);
  let owner: { accountId: string | null; organisationId: string | null };
  if ('accountId' in request.target) {
    await ensureAccountInReach(ctx, reach, request.target.accountId);
    owner = { accountId: request.target.accountId, organisationId: null };
  } else {
    await ensureOrganisationInReach(ctx, reach, request.target.organisationExternalId);
    owner = { accountId: null, organisationId: await organisationIdOf(ctx, request.target.organisationExternalId) };
  }
  const levels = await Promise.all(
    request.levels.map(async (level) => {
      if ('amount' in level) return { level: level.amount, percentOfPlan: null };
      const subscription = owner.accountId ? await findSubscription(ctx.db.sql, owner.accountId) : null;
      if (!subscription) {
        throw new CreditkeeperError('VALIDATION_FAILED', 'A level as a share of the plan needs an account on a plan', { path: 'levels', percentOfPlan: level.percentOfPlan });
      }
      const allocation = BigInt(findPlan(ctx.plans, subscription.plan).allocation);
      return { level: (allocation * BigInt(level.percentOfPlan) + 99n) / 100n, percentOfPlan: level.percentOfPlan };
    }),
  );
  const unique = [...new Map(levels.map((l) => [l.level, l])).values()];
  await ctx.db.sql.transaction(async (tx) => {
    await tx.query(`DELETE FROM balance_thresholds WHERE account_id IS NOT DISTINCT FROM $1::uuid AND organisation_id IS NOT DISTINCT FROM $2::uuid`, [owner.accountId, owner.organisationId]);
    if (unique.length) {
      await tx.query(
        `INSERT INTO balance_thresholds (account_id, organisation_id, level, percent_of_plan)
         SELECT $1::uuid, $2::uuid, l.level, l.percent FROM unnest($3::bigint[], $4::int[]) AS l(level, percent)`,
        [owner.accountId, owner.organisationId, unique.map((l) => l.level.toString()), unique.map((l) => l.percentOfPlan)],
      );
    }
  });
  return { levels: (await listBalanceThresholds(ctx, owner)).filter((l) => l.scope === ('accountId' in request.target ? 'account' : 'organisation')) };
}
