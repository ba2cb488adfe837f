import { z } from 'zod';
import type { CoreContext } from '../context.js';
import type { BucketKind } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput, uuid } from '../input.js';

export const getBalanceInput = z.strictObject({ accountId: uuid });

export interface BalanceView {
  accountId: string;
  /** Sum of the account's entries. */
  balance: bigint;
  /** What can be spent now: the balance less credits that expired and are not yet swept. */
  available: bigint;
  outstanding: bigint;
  buckets: { id: string; kind: BucketKind; remaining: bigint; expiresAt: Date | null }[];
  inFlightDeposits: { count: number; amount: bigint };
}

/** The balance and what it is made of, read without taking any lock. */
export async function getBalance(ctx: CoreContext, input: z.input<typeof getBalanceInput>): Promise<BalanceView> {
  const { accountId } = parseInput(getBalanceInput, input);
  const [row] = await ctx.db.sql.query<{
    balance: string;
    outstanding: string;
    now: Date;
    buckets: { id: string; kind: BucketKind; remaining: string; expires_at: string | null }[];
    deposits: number;
    deposited: string;
  }>(
    `SELECT a.balance::text, a.outstanding::text, now() AS now,
       (SELECT coalesce(json_agg(b ORDER BY b.expires_at NULLS LAST, b.priority, b.created_at), '[]'::json)
          FROM (SELECT id, kind, remaining::text, expires_at, priority, created_at FROM buckets
                WHERE account_id = a.id AND remaining > 0) b) AS buckets,
       d.deposits, d.deposited
     FROM accounts a,
       LATERAL (SELECT count(*)::int AS deposits, coalesce(sum(charged), 0)::text AS deposited
                FROM deposits WHERE account_id = a.id AND status = 'IN_FLIGHT') d
     WHERE a.id = $1::uuid`,
    [accountId],
  );
  if (!row) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${accountId}`);
  const buckets = row.buckets.map((b) => ({
    id: b.id,
    kind: b.kind,
    remaining: BigInt(b.remaining),
    expiresAt: b.expires_at === null ? null : new Date(b.expires_at),
  }));
  const now = new Date(row.now).getTime();
  const live = buckets.filter((b) => b.expiresAt === null || b.expiresAt.getTime() > now);
  return {
    accountId,
    balance: BigInt(row.balance),
    available: live.reduce((sum, b) => sum + b.remaining, 0n),
    outstanding: BigInt(row.outstanding),
    buckets: live,
    inFlightDeposits: { count: row.deposits, amount: BigInt(row.deposited) },
  };
}
