import type { BucketKind, EntryType } from '../db/generated/enums.js';
import type { SqlSession } from '../db/sqlRunner.js';
import type { BucketState } from './accountBuckets.js';
import type { AccountSnapshot } from './accountLedger.js';
import type { DatabaseClock } from './knownAccounts.js';
import { readStateStatement } from './writeStatements.js';

/** One account as the state read returns it. */
export interface AccountState {
  balance: string;
  outstanding: string;
  last_seq: string;
  opened_at: string;
  now: string;
  /** Of the keys the writes bring, those used before, with the request each was used for. */
  replay_hashes: Record<string, string>;
  buckets: BucketRow[];
  last_entry: {
    type: EntryType;
    category: string | null;
    source_kind: string | null;
    source_id: string | null;
    group_seq: string;
    group_started_at: string;
    created_at: string;
    late: boolean;
  } | null;
}

/** A bucket as raw SQL returns it (the state read, returnDrawn's read of emptied buckets). */
export interface BucketRow {
  id: string;
  kind: BucketKind;
  granted: string;
  remaining: string;
  priority: number;
  expires_at: string | null;
  created_at: string;
}

/** The accounts' states, by id (none for no such account), in one statement; the clock learns the database's time from it. */
export async function readAccountStates(
  session: SqlSession,
  accounts: { id: string; keys: string[] }[],
  clock: DatabaseClock,
): Promise<Map<string, AccountState>> {
  const rows = await session.query<{ account_id: string; state: AccountState }>(readStateStatement, [JSON.stringify(accounts)], 'creditkeeper_read_state');
  if (rows.length > 0) clock.observe(new Date(rows[0]!.state.now), Date.now());
  return new Map(rows.map((row) => [row.account_id, row.state]));
}

/**
 * A write is stamped at the later of the database's now and the account's last entry's time, so entry times
 * never go back along seq: that is what lets reports find a moment's first entry by time.
 */
export function writeTime(state: AccountState): Date {
  const now = new Date(state.now);
  const last = state.last_entry && new Date(state.last_entry.created_at);
  return last && last > now ? last : now;
}

export function toSnapshot(accountId: string, state: AccountState): AccountSnapshot {
  const last = state.last_entry;
  return {
    id: accountId,
    balance: BigInt(state.balance),
    outstanding: BigInt(state.outstanding),
    lastSeq: BigInt(state.last_seq),
    openedAt: new Date(state.opened_at),
    buckets: state.buckets.map(toBucketState),
    lastEntry: last && {
      type: last.type,
      category: last.category,
      sourceKind: last.source_kind,
      sourceId: last.source_id,
      groupSeq: BigInt(last.group_seq),
      groupStartedAt: new Date(last.group_started_at),
      late: last.late,
    },
    seenAt: null,
  };
}

export function toBucketState(row: BucketRow): BucketState {
  return {
    id: row.id,
    kind: row.kind,
    granted: BigInt(row.granted),
    remaining: BigInt(row.remaining),
    priority: row.priority,
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
    createdAt: new Date(row.created_at),
    isNew: false,
    changed: false,
  };
}
