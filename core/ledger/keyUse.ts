import type { CoreContext } from '../context.js';

/**
 * When an operation already wrote entries under this key on the account: a use-case that does
 * something outside the ledger (saving a subscription, charging a card) asks first, so a retry
 * replays instead of doing that part again.
 */
export async function keyUse(ctx: CoreContext, accountId: string, idempotencyKey: string): Promise<{ at: Date; requestHash: string } | null> {
  const [row] = await ctx.db.sql.query<{ created_at: Date; request_hash: string }>(
    'SELECT created_at, request_hash FROM entries WHERE account_id = $1::uuid AND idempotency_key = $2',
    [accountId, idempotencyKey],
  );
  return row ? { at: new Date(row.created_at), requestHash: row.request_hash } : null;
}
