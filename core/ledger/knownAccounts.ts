import type { AccountSnapshot } from './accountLedger.js';

/**
 * The accounts this process last saw, so a batchable write skips the read. Never trusted blindly: the flush's
 * seq and key guard turns a stale one into a read and a retry, never a wrong balance.
 */
export class KnownAccounts {
  /** In the order they were last seen, oldest first. */
  private readonly accounts = new Map<string, AccountSnapshot>();

  constructor(private readonly capacity: number) {}

  /**
   * The account as this process last saw it, handed over to one write: it is forgotten until
   * that write lands and remembers it again, so a write that fails leaves nothing stale behind.
   */
  take(accountId: string): AccountSnapshot | undefined {
    const known = this.accounts.get(accountId);
    this.accounts.delete(accountId);
    return known;
  }

  remember(account: AccountSnapshot): void {
    this.accounts.delete(account.id);
    this.accounts.set(account.id, account);
    if (this.accounts.size > this.capacity) this.accounts.delete(this.accounts.keys().next().value!);
  }
}

/**
 * The database's clock as last measured (its now when an answer arrived): behind by at most a round trip, never
 * ahead, so a write that reads nothing cannot be stamped later than the database would.
 */
export class DatabaseClock {
  private offsetMs = 0;

  observe(databaseNow: Date, receivedAt: number): void {
    this.offsetMs = databaseNow.getTime() - receivedAt;
  }

  /** Now by the database's clock, to the millisecond, and never before `notBefore`. */
  now(notBefore: Date | null): Date {
    const now = Math.floor(Date.now() + this.offsetMs);
    return new Date(notBefore && notBefore.getTime() > now ? notBefore.getTime() : now);
  }
}
