import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CreditkeeperError } from '../errors.js';

/** The plans: the documented defaults, or a deployment's PLANS_FILE validated by the same schema. */
const plan = z.strictObject({
  name: z.string().min(1).max(100),
  /** Credits granted at the start of every period. */
  allocation: z.number().int().min(1).max(1_000_000_000),
  period: z.enum(['week', 'month']),
  /**
   * What happens to plan credits left at renewal: `reset` ("plan tokens reset"), or
   * `rollover` of up to `rolloverCap` of them into the next period (and no further).
   */
  unused: z.enum(['reset', 'rollover']).default('reset'),
  rolloverCap: z.number().int().min(1).optional(),
});

export const planCatalogSchema = z
  .record(z.string().regex(/^[a-z0-9_-]{1,50}$/), plan)
  .refine((plans) => Object.values(plans).every((p) => (p.unused === 'rollover') === (p.rolloverCap !== undefined)), {
    message: 'a rollover plan needs a rolloverCap, and only a rollover plan may have one',
  });
export type PlanCatalog = z.infer<typeof planCatalogSchema>;
export type Plan = PlanCatalog[string] & { id: string };

export const seedPlans: PlanCatalog = {
  free: { name: 'Free', allocation: 12, period: 'week', unused: 'reset' },
  starter: { name: 'Starter', allocation: 150, period: 'month', unused: 'reset' },
  growth: { name: 'Growth', allocation: 325, period: 'month', unused: 'reset' },
  scale: { name: 'Scale', allocation: 575, period: 'month', unused: 'reset' },
};

export function loadPlans(file: string | undefined): PlanCatalog {
  if (!file) return seedPlans;
  const parsed = planCatalogSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`Plans file ${file} is invalid: ${parsed.error.message}`);
  return parsed.data;
}

export function findPlan(plans: PlanCatalog, id: string): Plan {
  const found = Object.hasOwn(plans, id) ? plans[id] : undefined;
  if (!found) throw new CreditkeeperError('PLAN_NOT_FOUND', `No plan "${id}"`, { plan: id, known: Object.keys(plans) });
  return { ...found, id };
}

/** A weekly plan's credits are "weekly" credits (the weekly reset); a monthly plan's are "plan" credits. */
export function planGrant(plan: Plan): { bucket: 'WEEKLY' | 'PLAN'; type: 'WEEKLY_GRANT' | 'PLAN_GRANT' } {
  return plan.period === 'week' ? { bucket: 'WEEKLY', type: 'WEEKLY_GRANT' } : { bucket: 'PLAN', type: 'PLAN_GRANT' };
}
