import { z } from 'zod';
import type { CoreContext } from '../context.js';
import type { BucketKind } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput, uuid } from '../input.js';

export const balanceAtInput = z.strictObject({ accountId: uuid, at: z.coerce.date({ message: 'must be a date' }) });

export interface BalanceAt {
  accountId: string;
  at: Date;
  /** false: `at` is before the account was opened (everything is then 0 and there are no buckets). */
  opened: boolean;
  /** The last entry at or before `at`, whose balance after this is; null when there was none yet. */
  entry: { seq: bigint; createdAt: Date } | null;
  balance: bigint;
  /** What could be spent then: the balance less credits already expired but not yet swept by an EXPIRY entry. */
  available: bigint;
  outstanding: bigint;
  /** The buckets holding credits then, in the order a spend draws them (soonest expiry, priority, oldest). */
  buckets: { id: string; kind: BucketKind; remaining: bigint; expiresAt: Date | null; expired: boolean }[];
}

/**
 * The balance and its buckets as they stood at an instant. The balance is the balance after of
 * the last entry at or before it: one probe of the time index, since entry times never go back
 * along an account's seq. The buckets come from the movements, walking whichever side of that
 * entry is shorter: forward, the sums of the movements up to it; backward, the buckets as they are
 * now less the movements after it (read in one statement, so in one snapshot). Movements carry no
 * seq of their own, so that walk is the cost: at most half the log, the entries since `at` for a
 * recent one.
 */
export async function getBalanceAt(ctx: CoreContext, input: z.input<typeof balanceAtInput>): Promise<BalanceAt> {
  const { accountId, at } = parseInput(balanceAtInput, input);
  const [point] = await ctx.db.sql.query<{
    opened_at: Date;
    now: Date;
    last_seq: string;
    seq: string | null;
    created_at: Date | null;
    balance_after: string | null;
    outstanding_after: string | null;
  }>(
    `SELECT a.created_at AS opened_at, date_trunc('milliseconds', clock_timestamp()) AS now, a.last_seq::text,
       t.seq::text, t.created_at, t.balance_after::text, t.outstanding_after::text
     FROM accounts a LEFT JOIN LATERAL (
       SELECT e.seq, e.created_at, e.balance_after, e.outstanding_after FROM entries e
       WHERE e.account_id = a.id
         AND e.created_at = (SELECT max(l.created_at) FROM entries l WHERE l.account_id = a.id AND l.created_at <= $2::timestamptz)
       ORDER BY e.seq DESC LIMIT 1) t ON true
     WHERE a.id = $1::uuid`,
    [accountId, at],
  );
  if (!point) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${accountId}`);
  // Later entries can still land before a future instant: its balance is not known yet.
  if (at.getTime() > new Date(point.now).getTime()) {
    throw new CreditkeeperError('VALIDATION_FAILED', `at: is in the future (the ledger's clock is at ${new Date(point.now).toISOString()})`, {
      issues: [{ path: 'at', message: 'is in the future' }],
    });
  }
  const opened = at.getTime() >= new Date(point.opened_at).getTime();
  if (point.seq === null) {
    return { accountId, at, opened, entry: null, balance: 0n, available: 0n, outstanding: 0n, buckets: [] };
  }
  const seq = BigInt(point.seq);
  const backward = BigInt(point.last_seq) - seq < seq;
  const rows = await ctx.db.sql.query<{ id: string; kind: BucketKind; remaining: string; expires_at: Date | null }>(
    `SELECT b.id, b.kind, b.expires_at,
       (CASE WHEN $5::boolean THEN b.remaining - coalesce(w.amount, 0) ELSE coalesce(w.amount, 0) END)::text AS remaining
     FROM buckets b LEFT JOIN (
       SELECT m.bucket_id, sum(m.amount) AS amount FROM entries e JOIN movements m ON m.entry_id = e.id
       WHERE e.account_id = $1::uuid AND e.seq > $3::bigint AND e.seq <= $4::bigint GROUP BY m.bucket_id) w ON w.bucket_id = b.id
     WHERE b.account_id = $1::uuid AND b.created_at <= $2::timestamptz
     ORDER BY b.expires_at NULLS LAST, b.priority, b.created_at, b.id`,
    backward ? [accountId, point.created_at, point.seq, maxSeq, true] : [accountId, point.created_at, '0', point.seq, false],
  );
  const buckets = rows
    .map((b) => {
      const expiresAt = b.expires_at === null ? null : new Date(b.expires_at);
      return { id: b.id, kind: b.kind, remaining: BigInt(b.remaining), expiresAt, expired: expiresAt !== null && expiresAt <= at };
    })
    .filter((b) => b.remaining !== 0n);
  return {
    accountId,
    at,
    opened,
    entry: { seq, createdAt: new Date(point.created_at!) },
    balance: BigInt(point.balance_after!),
    available: buckets.filter((b) => !b.expired).reduce((sum, b) => sum + b.remaining, 0n),
    outstanding: BigInt(point.outstanding_after!),
    buckets,
  };
}

const maxSeq = '9223372036854775807';
