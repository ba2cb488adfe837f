import type { CoreContext } from '../../core/context.js';
import type { BucketKind } from '../../core/db/generated/enums.js';

/**
 * The buckets at an instant as getBalanceAt found them before movements carried their seq: by
 * walking the entries on the shorter side of the last entry at or before it with their movements
 * (forward: the sums up to it; backward: the buckets now less the movements after it). Kept only
 * as the oracle of the property test: exact, but it costs up to half the log.
 */
export async function balanceAtByWalkingMovements(ctx: CoreContext, accountId: string, at: Date) {
  const [point] = await ctx.db.sql.query<{ last_seq: string; seq: string | null; created_at: Date | null; balance_after: string | null; outstanding_after: string | null }>(
    `SELECT a.last_seq::text, t.seq::text, t.created_at, t.balance_after::text, t.outstanding_after::text
     FROM accounts a LEFT JOIN LATERAL (
       SELECT e.seq, e.created_at, e.balance_after, e.outstanding_after FROM entries e
       WHERE e.account_id = a.id
         AND e.created_at = (SELECT max(l.created_at) FROM entries l WHERE l.account_id = a.id AND l.created_at <= $2::timestamptz)
       ORDER BY e.seq DESC LIMIT 1) t ON true
     WHERE a.id = $1::uuid`,
    [accountId, at],
  );
  if (point!.seq === null) return { entry: null, balance: 0n, available: 0n, outstanding: 0n, buckets: [] };
  const seq = BigInt(point!.seq);
  const backward = BigInt(point!.last_seq) - seq < seq;
  const rows = await ctx.db.sql.query<{ id: string; kind: BucketKind; remaining: string; expires_at: Date | null }>(
    `SELECT b.id, b.kind, b.expires_at,
       (CASE WHEN $5::boolean THEN b.remaining - coalesce(w.amount, 0) ELSE coalesce(w.amount, 0) END)::text AS remaining
     FROM buckets b LEFT JOIN (
       SELECT m.bucket_id, sum(m.amount) AS amount FROM entries e JOIN movements m ON m.entry_id = e.id
       WHERE e.account_id = $1::uuid AND e.seq > $3::bigint AND e.seq <= $4::bigint GROUP BY m.bucket_id) w ON w.bucket_id = b.id
     WHERE b.account_id = $1::uuid AND b.created_at <= $2::timestamptz
     ORDER BY b.expires_at NULLS LAST, b.priority, b.created_at, b.id`,
    backward ? [accountId, point!.created_at, point!.seq, '9223372036854775807', true] : [accountId, point!.created_at, '0', point!.seq, false],
  );
  const buckets = rows
    .map((b) => {
      const expiresAt = b.expires_at === null ? null : new Date(b.expires_at);
      return { id: b.id, kind: b.kind, remaining: BigInt(b.remaining), expiresAt, expired: expiresAt !== null && expiresAt <= at };
    })
    .filter((b) => b.remaining !== 0n);
  return {
    entry: { seq, createdAt: new Date(point!.created_at!) },
    balance: BigInt(point!.balance_after!),
    available: buckets.filter((b) => !b.expired).reduce((sum, b) => sum + b.remaining, 0n),
    outstanding: BigInt(point!.outstanding_after!),
    buckets,
  };
}
