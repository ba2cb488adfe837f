import { z } from 'zod';
import { accountsInReach, type Reach } from '../access/accountReach.js';
import type { CoreContext } from '../context.js';
import { CreditkeeperError, type ErrorCode, isCreditkeeperError } from '../errors.js';
import { actor, origin, parseInput } from '../input.js';
import { spend, type SpendResult } from './spend.js';

/** Most usage events one batch carries. */
export const maxBatchEvents = 1000;

export const spendBatchInput = z.strictObject({
  /** Each a usage event as `POST …/usage` takes it, with its account and its own idempotency key; checked one by one. */
  events: z.array(z.record(z.string(), z.unknown())).min(1).max(maxBatchEvents),
  actor,
  origin: origin.optional(),
});

export type BatchOutcome =
  | { index: number; idempotencyKey: string | null; status: 'written' | 'replayed'; result: Omit<SpendResult, 'replayed'> }
  | { index: number; idempotencyKey: string | null; status: 'refused'; error: { code: ErrorCode; message: string; details: Record<string, unknown> } };

/** Outages are the batch's, not an event's: the caller retries the whole batch, and what landed replays. */
const outages: readonly ErrorCode[] = ['DATABASE_UNAVAILABLE', 'STORAGE_FULL', 'DATABASE_LOCKED'];

/** Accounts whose events run at once (enough to fill the group commit; measured with bench/batch.ts); each account's events run one after another, in batch order. */
const accountsAtOnce = 200;

/**
 * Not all-or-nothing: each event is its own spend under its own idempotency key, with its own outcome. An account
 * out of reach is refused like an unknown one, so a batch cannot probe which accounts exist.
 */
export async function spendBatch(ctx: CoreContext, reach: Reach, input: z.input<typeof spendBatchInput>): Promise<{ outcomes: BatchOutcome[] }> {
  const request = parseInput(spendBatchInput, input);
  const reachable = await accountsInReach(ctx, reach, request.events.map((event) => event.accountId));
  const byAccount = new Map<unknown, number[]>();
  request.events.forEach((event, index) => byAccount.set(event.accountId, [...(byAccount.get(event.accountId) ?? []), index]));

  const outcomes: BatchOutcome[] = new Array(request.events.length);
  const runAccount = async (indexes: number[]) => {
    for (const index of indexes) {
      const event = request.events[index]!;
      const idempotencyKey = typeof event.idempotencyKey === 'string' ? event.idempotencyKey : null;
      try {
        if (typeof event.accountId !== 'string' || !reachable.has(event.accountId)) {
          throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${String(event.accountId)}`);
        }
        const { replayed, ...result } = await spend(ctx, { ...event, actor: request.actor, origin: request.origin } as Parameters<typeof spend>[1]);
        outcomes[index] = { index, idempotencyKey, status: replayed ? 'replayed' : 'written', result };
      } catch (error) {
        if (!isCreditkeeperError(error) || outages.includes(error.code)) throw error;
        outcomes[index] = { index, idempotencyKey, status: 'refused', error: { code: error.code, message: error.message, details: error.details } };
      }
    }
  };
  const queue = [...byAccount.values()];
  await Promise.all(Array.from({ length: Math.min(accountsAtOnce, queue.length) }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await runAccount(next);
  }));
  return { outcomes };
}
