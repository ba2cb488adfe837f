import type { AccountSnapshot } from './accountLedger.js';

/**
 * The accounts this process wrote or read last, each as it then stood. The next batchable write
 * of a known account starts from that instead of reading the account: one round trip, not two.
 * Knowledge is never trusted blindly: the flush moves an account only if its sequence is still
 * the one the write started from and none of the write's keys was used before, so an account
 * another process wrote meanwhile (or a retried key) costs a read and a second try, never a wrong
 * balance. The `capacity` accounts seen most recently are kept; older ones are read again.
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
 * The database's clock as this process last measured it. Entry times come from the database's
 * clock, which every other time (renewals due, report windows) is judged by; a write that reads
 * nothing asks this instead. Each read of accounts measures it again: its `now` against the
 * moment the answer arrived, so it is behind by at most the round trip and never ahead. Ahead, a
 * write stamped from it could come after one stamped by the database itself and carry a later
 * time: a round trip that waited for a new connection (after a restart) was ahead by half that wait.
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
