import type { CoreContext } from '../context.js';

/**
 * When this key already wrote entries on the account: a use-case with a side effect outside the ledger asks
 * first, so a retry replays instead of repeating it.
 */
export async function keyUse(ctx: CoreContext, accountId: string, idempotencyKey: string): Promise<{ at: Date; requestHash: string } | null> {
  const [row] = await ctx.db.sql.query<{ created_at: Date; request_hash: string }>(
    'SELECT created_at, request_hash FROM entries WHERE account_id = $1::uuid AND idempotency_key = $2',
    [accountId, idempotencyKey],
  );
  return row ? { at: new Date(row.created_at), requestHash: row.request_hash } : null;
}
