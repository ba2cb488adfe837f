import type { CoreContext } from '../context.js';
import type { Period } from './billingPeriod.js';
import type { SqlSession } from '../db/sqlRunner.js';
import { CreditkeeperError } from '../errors.js';

/** A subscription as the plan use-cases read it. */
export interface SubscriptionRecord {
  id: string;
  accountId: string;
  plan: string;
  status: 'ACTIVE' | 'CANCELLED';
  timeZone: string;
  anchorAt: Date;
  periodIndex: number;
  periodStart: Date;
  periodEnd: Date;
  cancelledAt: Date | null;
  updatedAt: Date;
}

export const subscriptionColumns = `id, account_id, plan, status, time_zone, anchor_at, period_index, period_start, period_end, cancelled_at, updated_at`;

export interface SubscriptionRow {
  id: string;
  account_id: string;
  plan: string;
  status: 'ACTIVE' | 'CANCELLED';
  time_zone: string;
  anchor_at: Date | string;
  period_index: number;
  period_start: Date | string;
  period_end: Date | string;
  cancelled_at: Date | string | null;
  updated_at: Date | string;
}

export function toSubscriptionRecord(row: SubscriptionRow): SubscriptionRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    plan: row.plan,
    status: row.status,
    timeZone: row.time_zone,
    anchorAt: new Date(row.anchor_at),
    periodIndex: row.period_index,
    periodStart: new Date(row.period_start),
    periodEnd: new Date(row.period_end),
    cancelledAt: row.cancelled_at === null ? null : new Date(row.cancelled_at),
    updatedAt: new Date(row.updated_at),
  };
}

export async function findSubscription(session: SqlSession, accountId: string): Promise<SubscriptionRecord | null> {
  const [row] = await session.query<SubscriptionRow>(`SELECT ${subscriptionColumns} FROM subscriptions WHERE account_id = $1::uuid`, [accountId]);
  return row ? toSubscriptionRecord(row) : null;
}

export async function activeSubscription(ctx: CoreContext, accountId: string): Promise<SubscriptionRecord> {
  const subscription = await findSubscription(ctx.db.sql, accountId);
  if (!subscription || subscription.status !== 'ACTIVE') {
    throw new CreditkeeperError('SUBSCRIPTION_NOT_FOUND', `Account ${accountId} has no active subscription`);
  }
  return subscription;
}

/** Writes where a subscription is now: its plan, anchor and current period (and makes it active). */
export async function saveSubscription(
  session: SqlSession,
  s: { accountId: string; plan: string; timeZone: string; anchorAt: Date; periodIndex: number; periodStart: Date; periodEnd: Date },
): Promise<SubscriptionRecord> {
  const [row] = await session.query<SubscriptionRow>(
    `INSERT INTO subscriptions (account_id, plan, status, time_zone, anchor_at, period_index, period_start, period_end)
     VALUES ($1::uuid, $2, 'ACTIVE', $3, $4, $5, $6, $7)
     ON CONFLICT (account_id) DO UPDATE SET plan = EXCLUDED.plan, status = 'ACTIVE', time_zone = EXCLUDED.time_zone,
       anchor_at = EXCLUDED.anchor_at, period_index = EXCLUDED.period_index, period_start = EXCLUDED.period_start,
       period_end = EXCLUDED.period_end, cancelled_at = NULL, updated_at = clock_timestamp()
     RETURNING ${subscriptionColumns}`,
    [s.accountId, s.plan, s.timeZone, s.anchorAt, s.periodIndex, s.periodStart, s.periodEnd],
  );
  return toSubscriptionRecord(row!);
}

/** A period as the subscription stores it. */
export function periodFields(period: Period): Pick<SubscriptionRecord, 'periodIndex' | 'periodStart' | 'periodEnd'> {
  return { periodIndex: period.index, periodStart: period.start, periodEnd: period.end };
}
