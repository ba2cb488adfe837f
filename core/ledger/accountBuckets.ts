import { randomUUID } from 'node:crypto';
import type { BucketKind } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';

export interface BucketState {
  id: string;
  kind: BucketKind;
  granted: bigint;
  remaining: bigint;
  priority: number;
  expiresAt: Date | null;
  createdAt: Date;
  isNew: boolean;
  changed: boolean;
}

export interface MovementState {
  bucketId: string;
  amount: bigint;
}

/** A staged movement as its row stores it: with its entry and what its bucket held after it. */
export interface MovementRow extends MovementState {
  entryId: string;
  seq: bigint;
  remainingAfter: bigint;
}

/**
 * Each movement with what its bucket held right after its entry, walked back from what the write leaves in the
 * bucket: exact however many of the write's entries touched one bucket.
 */
export function movementRows(
  entries: readonly { id: string; seq: bigint; movements: readonly MovementState[] }[],
  buckets: readonly BucketState[],
): MovementRow[] {
  const held = new Map(buckets.map((b) => [b.id, b.remaining]));
  const rows: MovementRow[] = [];
  for (const entry of entries.toReversed()) {
    for (const m of entry.movements.toReversed()) {
      const remainingAfter = held.get(m.bucketId);
      if (remainingAfter === undefined) throw new Error(`bucket ${m.bucketId} moved but is not among the write's changed buckets`);
      held.set(m.bucketId, remainingAfter - m.amount);
      rows.push({ ...m, entryId: entry.id, seq: entry.seq, remainingAfter });
    }
  }
  return rows.reverse();
}

/** Drawdown order: soonest expiry first (never-expiring last), then priority, then oldest. */
export function compareDrawdown(a: BucketState, b: BucketState): number {
  const aExp = a.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  const bExp = b.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  if (aExp !== bExp) return aExp < bExp ? -1 : 1;
  if (a.priority !== b.priority) return a.priority - b.priority;
  const created = a.createdAt.getTime() - b.createdAt.getTime();
  if (created !== 0) return created;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function bucketLabel(kind: BucketKind): string {
  return { PLAN: 'plan', WEEKLY: 'weekly', PURCHASED: 'purchased', BONUS: 'bonus', REWARD: 'reward', PROMO: 'promo' }[kind];
}

/**
 * One account's buckets as a write draws on them, at the write's time `now`: what may be spent
 * and in which order, taking, returning and opening. AccountLedger adds the entries on top.
 */
export class AccountBuckets {
  protected readonly buckets = new Map<string, BucketState>();

  constructor(buckets: BucketState[], readonly now: Date) {
    for (const bucket of buckets) this.buckets.set(bucket.id, bucket);
  }

  /** Buckets that may be spent now, in drawdown order. An expired bucket is never spendable. */
  spendable(): BucketState[] {
    return [...this.buckets.values()]
      .filter((b) => b.remaining > 0n && !this.isExpired(b))
      .sort(compareDrawdown);
  }

  available(): bigint {
    return this.spendable().reduce((sum, b) => sum + b.remaining, 0n);
  }

  /** Buckets of these kinds with credits that may still be spent, in drawdown order. */
  live(kinds: readonly BucketKind[]): BucketState[] {
    return this.spendable().filter((b) => kinds.includes(b.kind));
  }

  bucket(id: string): BucketState | undefined {
    return this.buckets.get(id);
  }

  isExpired(bucket: Pick<BucketState, 'expiresAt'>): boolean {
    return bucket.expiresAt !== null && bucket.expiresAt.getTime() <= this.now.getTime();
  }

  /** Takes `amount` in drawdown order (optionally from `first` before the rest), or fails writing nothing. */
  draw(amount: bigint, first?: string): MovementState[] {
    const { movements, taken } = this.drawUpTo(amount, first);
    if (taken < amount) {
      throw new CreditkeeperError('INSUFFICIENT_CREDITS', `This needs ${amount} credits; ${taken} are available`, {
        required: amount.toString(),
        available: taken.toString(),
      });
    }
    return movements;
  }

  /** Takes as much of `amount` as the spendable buckets hold. */
  drawUpTo(amount: bigint, first?: string): { movements: MovementState[]; taken: bigint } {
    const order = this.spendable();
    const preferred = first ? order.findIndex((b) => b.id === first) : -1;
    if (preferred > 0) order.unshift(...order.splice(preferred, 1));
    const movements: MovementState[] = [];
    let left = amount;
    for (const bucket of order) {
      if (left === 0n) break;
      const take = bucket.remaining < left ? bucket.remaining : left;
      movements.push(this.take(bucket, take));
      left -= take;
    }
    return { movements, taken: amount - left };
  }

  /** Takes `amount` from one bucket (for an entry that names where its credits come from). */
  take(bucket: BucketState, amount: bigint): MovementState {
    bucket.remaining -= amount;
    bucket.changed = true;
    return { bucketId: bucket.id, amount: -amount };
  }

  /** Puts credits back into a bucket they came from. */
  returnTo(bucketId: string, amount: bigint): MovementState {
    const bucket = this.buckets.get(bucketId);
    if (!bucket) throw new Error(`bucket ${bucketId} is not loaded`);
    bucket.remaining += amount;
    bucket.changed = true;
    return { bucketId, amount };
  }

  /** Opens a new bucket holding `amount` and returns the movement that fills it. */
  addBucket(kind: BucketKind, amount: bigint, expiresAt: Date | null, priority: number): MovementState {
    const bucket: BucketState = {
      id: randomUUID(),
      kind,
      granted: amount,
      remaining: amount,
      priority,
      expiresAt,
      createdAt: this.now,
      isNew: true,
      changed: true,
    };
    this.buckets.set(bucket.id, bucket);
    return { bucketId: bucket.id, amount };
  }

  /** Loads a bucket that has nothing left (so credits can be returned to it). */
  adopt(bucket: BucketState): void {
    if (!this.buckets.has(bucket.id)) this.buckets.set(bucket.id, bucket);
  }
}
