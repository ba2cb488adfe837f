import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput, uuid } from '../input.js';
import { type SubscriptionRecord, type SubscriptionRow, subscriptionColumns, toSubscriptionRecord } from './subscriptionRecord.js';

const cancelSubscriptionInput = z.strictObject({ accountId: uuid });

/**
 * Stops future grants. Credits already granted stay until their period ends, as the user paid
 * for the period. Cancelling a cancelled subscription changes nothing.
 */
export async function cancelSubscription(ctx: CoreContext, input: z.input<typeof cancelSubscriptionInput>): Promise<SubscriptionRecord> {
  const { accountId } = parseInput(cancelSubscriptionInput, input);
  const [row] = await ctx.db.sql.query<SubscriptionRow>(
    `WITH cancelled AS (
       UPDATE subscriptions SET status = 'CANCELLED', cancelled_at = clock_timestamp(), updated_at = clock_timestamp()
       WHERE account_id = $1::uuid AND status = 'ACTIVE' RETURNING ${subscriptionColumns})
     SELECT * FROM cancelled UNION ALL SELECT ${subscriptionColumns} FROM subscriptions WHERE account_id = $1::uuid AND NOT EXISTS (SELECT 1 FROM cancelled)`,
    [accountId],
  );
  if (!row) throw new CreditkeeperError('SUBSCRIPTION_NOT_FOUND', `Account ${accountId} has no subscription`);
  return toSubscriptionRecord(row);
}
