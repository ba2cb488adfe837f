import { z } from 'zod';
import type { CoreContext } from '../context.js';
import type { BucketKind } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { date, parseInput, uuid } from '../input.js';

export const balanceAtInput = z.strictObject({ accountId: uuid, at: date });

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
 * One statement, so one snapshot: a probe of the time index for the last entry at or before `at`, and one of the
 * movements' key per bucket, whatever the log's length (README: The balance at a time).
 */
export async function getBalanceAt(ctx: CoreContext, input: z.input<typeof balanceAtInput>): Promise<BalanceAt> {
  const { accountId, at } = parseInput(balanceAtInput, input);
  const [point] = await ctx.db.sql.query<{
    opened_at: Date;
    now: Date;
    seq: string | null;
    created_at: Date | null;
    balance_after: string | null;
    outstanding_after: string | null;
    buckets: { id: string; kind: BucketKind; remaining: string; expires_at: string | null }[];
  }>(
    `SELECT a.created_at AS opened_at, date_trunc('milliseconds', clock_timestamp()) AS now,
       t.seq::text, t.created_at, t.balance_after::text, t.outstanding_after::text,
       (SELECT coalesce(json_agg(json_build_object('id', b.id, 'kind', b.kind, 'remaining', m.remaining_after::text,
                'expires_at', b.expires_at) ORDER BY b.expires_at NULLS LAST, b.priority, b.created_at, b.id), '[]')
        FROM buckets b CROSS JOIN LATERAL (
          SELECT m.remaining_after FROM movements m
          WHERE m.account_id = a.id AND m.bucket_id = b.id AND m.seq <= t.seq ORDER BY m.seq DESC LIMIT 1) m
        WHERE b.account_id = a.id AND b.created_at <= t.created_at AND m.remaining_after <> 0) AS buckets
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
  const buckets = point.buckets.map((b) => {
    const expiresAt = b.expires_at === null ? null : new Date(b.expires_at);
    return { id: b.id, kind: b.kind, remaining: BigInt(b.remaining), expiresAt, expired: expiresAt !== null && expiresAt <= at };
  });
  return {
    accountId,
    at,
    opened,
    entry: { seq: BigInt(point.seq), createdAt: new Date(point.created_at!) },
    balance: BigInt(point.balance_after!),
    available: buckets.filter((b) => !b.expired).reduce((sum, b) => sum + b.remaining, 0n),
    outstanding: BigInt(point.outstanding_after!),
    buckets,
  };
}
