import { z } from 'zod';
import type { CoreContext } from '../context.js';
import type { BucketKind } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput, timeZone, uuid } from '../input.js';
import { entryTypes } from '../ledger/entryTypes.js';
import type { BalanceView } from '../ledger/getBalance.js';
import { findPlan } from '../plans/planCatalog.js';
import { inTimeZone, reportTimeZone } from './timeZone.js';
import { usageTypes, usedSinceSql } from './usedSince.js';

export const balanceBreakdownInput = z.strictObject({ accountId: uuid, timeZone: timeZone.optional() });

export interface BalanceBreakdown {
  accountId: string;
  available: bigint;
  outstanding: bigint;
  /** Per kind of credit (plan, weekly, purchased, bonus…), soonest expiring first, with each lot's expiry. */
  kinds: { kind: BucketKind; remaining: bigint; nextExpiry: Date | null; lots: { remaining: bigint; expiresAt: Date | null }[] }[];
  inFlightDeposits: BalanceView['inFlightDeposits'];
  /** Credits used in the current period (the calendar month, in the account's time zone). */
  usedThisPeriod: { period: string; used: bigint; transactions: number };
  /**
   * The subscription, when there is one: the plan, when the next grant lands and what it brings,
   * and the "Total Used" in the billing period with its "Usage Rate" of the allocation.
   */
  plan: {
    id: string;
    name: string;
    status: 'ACTIVE' | 'CANCELLED';
    allocation: number;
    period: 'week' | 'month';
    periodStart: Date;
    periodEnd: Date;
    /** null once cancelled: nothing more will be granted. */
    nextGrant: { at: Date; credits: number } | null;
    usedThisPeriod: bigint;
    /** Percentage of the allocation used this period (may pass 100 with purchased credits), one decimal. */
    usageRatePercent: number;
  } | null;
  /** What a credit costs, when the deployment configures it. */
  costPerCredit: { amount: string; currency: string } | null;
}

const usageEntries = usageTypes.filter((t) => entryTypes[t].class === 'usage');

/**
 * Everything /credits shows in one statement (one round trip, one snapshot, one now()): getBalance's balance and
 * buckets, the report time zone's month as getMonthlySummary counts it, the subscription and usedSince its period start.
 */
const breakdownSql = `SELECT a.balance::text, a.outstanding::text, now() AS now,
    (SELECT coalesce(json_agg(b ORDER BY b.expires_at NULLS LAST, b.priority, b.created_at), '[]'::json)
       FROM (SELECT kind, remaining::text, expires_at, priority, created_at FROM buckets
             WHERE account_id = a.id AND remaining > 0) b) AS buckets,
    d.deposits, d.deposited, m.month, m.used, m.transactions,
    s.plan, s.status, s.period_start, s.period_end, p.used AS plan_used
  FROM (SELECT a.id, a.balance, a.outstanding, coalesce($2::text, u.time_zone, 'UTC') AS zone
        FROM accounts a LEFT JOIN users u ON u.id = a.user_id WHERE a.id = $1::uuid) a
  CROSS JOIN LATERAL (SELECT count(*)::int AS deposits, coalesce(sum(charged), 0)::text AS deposited
                      FROM deposits WHERE account_id = a.id AND status = 'IN_FLIGHT') d
  CROSS JOIN LATERAL (SELECT date_trunc('month', now() AT TIME ZONE a.zone) AS this_month) bounds
  CROSS JOIN LATERAL (SELECT to_char(bounds.this_month, 'YYYY-MM') AS month, coalesce(sum(r.used), 0)::text AS used,
                        coalesce(sum(r.usage_count), 0)::int AS transactions
                      FROM usage_rollups r
                      -- A day's slack: a month starting in a DST overlap (Havana) has local midnight twice; date_trunc decides.
                      WHERE r.account_id = a.id AND r.period_start >= (bounds.this_month AT TIME ZONE a.zone) - interval '1 day'
                        AND date_trunc('month', r.period_start AT TIME ZONE a.zone) = bounds.this_month) m
  LEFT JOIN subscriptions s ON s.account_id = a.id
  LEFT JOIN LATERAL (SELECT u.used::text AS used FROM (${usedSinceSql('a.id', 's.period_start', '$3::text[]', '$4::text[]')}) u) p
    ON s.id IS NOT NULL`;

interface BreakdownRow {
  balance: string;
  outstanding: string;
  now: Date;
  buckets: { kind: BucketKind; remaining: string; expires_at: string | null }[];
  deposits: number;
  deposited: string;
  month: string;
  used: string;
  transactions: number;
  plan: string | null;
  status: 'ACTIVE' | 'CANCELLED' | null;
  period_start: Date | string | null;
  period_end: Date | string | null;
  plan_used: string | null;
}

/** What /credits shows: what is available, what it is made of and when it expires, and how much was used. */
export async function getBalanceBreakdown(ctx: CoreContext, input: z.input<typeof balanceBreakdownInput>): Promise<BalanceBreakdown> {
  const request = parseInput(balanceBreakdownInput, input);
  const row = await readBreakdown(ctx, request.accountId, request.timeZone);
  const now = new Date(row.now).getTime();
  const kinds = new Map<BucketKind, BalanceBreakdown['kinds'][number]>();
  let available = 0n;
  for (const bucket of row.buckets) {
    const expiresAt = bucket.expires_at === null ? null : new Date(bucket.expires_at);
    if (expiresAt !== null && expiresAt.getTime() <= now) continue; // expired, not yet swept: not available
    const remaining = BigInt(bucket.remaining);
    const kind = kinds.get(bucket.kind) ?? { kind: bucket.kind, remaining: 0n, nextExpiry: expiresAt, lots: [] };
    kind.remaining += remaining;
    kind.lots.push({ remaining, expiresAt });
    kinds.set(bucket.kind, kind);
    available += remaining;
  }
  return {
    accountId: request.accountId,
    available,
    outstanding: BigInt(row.outstanding),
    kinds: [...kinds.values()],
    inFlightDeposits: { count: row.deposits, amount: BigInt(row.deposited) },
    usedThisPeriod: { period: row.month, used: BigInt(row.used), transactions: row.transactions },
    plan: planStatus(ctx, row),
    costPerCredit: ctx.costPerCredit ?? null,
  };
}

async function readBreakdown(ctx: CoreContext, accountId: string, timeZone: string | undefined): Promise<BreakdownRow> {
  let rows: BreakdownRow[];
  try {
    rows = await ctx.db.sql.query<BreakdownRow>(breakdownSql, [accountId, timeZone ?? null, usageTypes, usageEntries], 'creditkeeper_balance_breakdown');
  } catch (error) {
    if ((error as { code?: string }).code !== '22023') throw error;
    // A zone PostgreSQL refuses: only this path needs its name, for the error.
    return inTimeZone(await reportTimeZone(ctx, accountId, timeZone), () => Promise.reject(error));
  }
  if (!rows[0]) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${accountId}`);
  return rows[0];
}

function planStatus(ctx: CoreContext, row: BreakdownRow): BalanceBreakdown['plan'] {
  if (row.plan === null || !Object.hasOwn(ctx.plans, row.plan)) return null; // none, or a plan since removed from the catalogue
  const plan = findPlan(ctx.plans, row.plan);
  const used = BigInt(row.plan_used!);
  return {
    id: plan.id,
    name: plan.name,
    status: row.status!,
    allocation: plan.allocation,
    period: plan.period,
    periodStart: new Date(row.period_start!),
    periodEnd: new Date(row.period_end!),
    nextGrant: row.status === 'ACTIVE' ? { at: new Date(row.period_end!), credits: plan.allocation } : null,
    usedThisPeriod: used,
    usageRatePercent: Math.round((Number(used) / plan.allocation) * 1000) / 10,
  };
}
