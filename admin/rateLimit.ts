import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Database } from '../core/db/database.js';
import { CreditkeeperError } from '../core/errors.js';

/**
 * A token bucket per caller (token id, else IP), in this process's memory: each replica limits on its own,
 * which bounds abuse without a shared store.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxCallers = 100_000,
  ) {}

  /** Takes one request from the caller's budget; returns the seconds to wait when there is none. */
  take(caller: string, now = Date.now()): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const bucket = this.buckets.get(caller) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.buckets.delete(caller); // re-insert: the map's order is least recently seen first
    this.buckets.set(caller, bucket);
    if (this.buckets.size > this.maxCallers) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens < 1) return { allowed: false, retryAfterSeconds: Math.ceil((1 - bucket.tokens) / this.perSecond) };
    bucket.tokens -= 1;
    return { allowed: true };
  }
}

/** A sign-in budget: attempts per client address and for everyone together, in fixed windows. */
export interface SignInBudget {
  perAddress: number;
  overall: number;
  windowSeconds: number;
}

export type SignInVerdict =
  | { allowed: true }
  | { allowed: false; retryAfterSeconds: number; attempts: number; scope: 'address' | 'overall'; firstRefusal: boolean };

/**
 * Sign-in attempts per address and overall: in a table on PostgreSQL so every process shares them, in memory
 * on the embedded database, which has one process.
 */
export class SignInLimits {
  private readonly perAddress: RateLimiterAbstract;
  private readonly overall: RateLimiterAbstract;
  private readonly ready: Promise<unknown>;

  constructor(db: Database, name: string, budget: SignInBudget) {
    const make = (scope: string, points: number) => {
      const options = { keyPrefix: `${name}:${scope}`, points, duration: budget.windowSeconds };
      if (db.kind !== 'postgres') return { limiter: new RateLimiterMemory(options), ready: Promise.resolve() };
      let created!: (error?: unknown) => void;
      const ready = new Promise((resolve, reject) => (created = (error) => (error ? reject(error) : resolve(undefined))));
      const limiter = new RateLimiterPostgres(
        { ...options, storeClient: rowsAsPgResult(db), storeType: 'pool', tableName: 'rate_limit_counters' },
        created,
      );
      return { limiter, ready };
    };
    const perAddress = make('address', budget.perAddress);
    const overall = make('overall', budget.overall);
    this.perAddress = perAddress.limiter;
    this.overall = overall.limiter;
    this.ready = Promise.all([perAddress.ready, overall.ready]);
    // A table that cannot be made fails each attempt that awaits it, not the process.
    this.ready.catch(() => undefined);
  }

  /** Counts one attempt from `address`; refused once the address's or everyone's budget is spent. */
  async attempt(address: string): Promise<SignInVerdict> {
    await this.ready;
    for (const [scope, limiter, key] of [
      ['address', this.perAddress, address],
      ['overall', this.overall, 'all'],
    ] as const) {
      try {
        await limiter.consume(key);
      } catch (refusal) {
        if (!(refusal instanceof RateLimiterRes)) throw refusal;
        if (scope === 'overall') await this.perAddress.reward(address); // the attempt was not made
        return {
          allowed: false,
          retryAfterSeconds: Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)),
          attempts: refusal.consumedPoints,
          scope,
          firstRefusal: refusal.consumedPoints === limiter.points + 1,
        };
      }
    }
    return { allowed: true };
  }

  /** Gives a successful sign-in's attempt back: only failures use up the budget. */
  async succeeded(address: string): Promise<void> {
    await Promise.all([this.perAddress.reward(address), this.overall.reward('all')]);
  }
}

/** rate-limiter-flexible's PostgreSQL store expects pg's result shape; the process's own pool answers. */
function rowsAsPgResult(db: Database) {
  return {
    query: async ({ text, values, name }: { text: string; values?: unknown[]; name?: string }) => {
      const rows = await db.sql.query(text, values, name);
      return { rows, rowCount: rows.length };
    },
  };
}

export function rateLimited(retryAfterSeconds: number): CreditkeeperError {
  return new CreditkeeperError('RATE_LIMITED', `Too many requests: retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
}
