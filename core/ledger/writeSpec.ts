import { createHash } from 'node:crypto';
import type { SqlSession } from '../db/sqlRunner.js';
import type { Actor, Origin } from '../input.js';
import type { AccountLedger } from './accountLedger.js';
import type { EntryView } from './entryView.js';

/** What a use-case may read inside its write (its reads are validated by the write's guard). */
export type Tx = SqlSession;

export interface WriteResult {
  /** The entries this operation posted, in order; the first is the operation's own entry. */
  entries: EntryView[];
  /** The account after the operation. */
  balance: bigint;
  outstanding: bigint;
  /** True when this is a retry answered from the first attempt's entries. */
  replayed: boolean;
}

export interface LedgerWriteSpec {
  accountId: string;
  idempotencyKey: string;
  /**
   * The operation's name and validated input: what "the same request" means for a retry
   * (its origin aside). A staff actor's write is also recorded in the audit log, atomically.
   */
  operation: string;
  request: { actor: Actor; origin?: Origin | undefined };
  /** Stages the operation's entries on the ledger; throwing writes nothing. */
  write: (ledger: AccountLedger, tx: Tx) => Promise<void> | void;
  /**
   * True when staging reads only the ledger, so it may share a group; writes that read entries or deposits
   * (refunds, reversals, reconciliations) run alone, so a neighbour cannot change what they read.
   */
  batchable?: boolean;
}

/** What makes two requests "the same" for a retry: the operation and its input, where it came from aside. */
export function requestHashOf(operation: string, request: LedgerWriteSpec['request']): string {
  const { origin: _origin, ...sameness } = request;
  const canonical = JSON.stringify({ operation, request: sameness }, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Date) return value.toISOString();
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return value;
  });
  return createHash('sha256').update(canonical).digest('hex');
}
