import type { CoreContext } from '../context.js';
import type { Database } from '../db/database.js';
import type { SqlSession } from '../db/sqlRunner.js';
import { CreditkeeperError } from '../errors.js';
import { AccountLedger, type AccountSnapshot } from './accountLedger.js';
import { readAccountStates, toSnapshot, writeTime } from './accountState.js';
import { type EntryRow, entryColumns, type StagedEntry, stagedEntryView, toEntryView } from './entryView.js';
import { flushStatement, mergeFlushes, toFlush } from './flushStatement.js';
import type { DatabaseClock, KnownAccounts } from './knownAccounts.js';
import { lockAccountStatement } from './writeStatements.js';
import type { LedgerWriteSpec, WriteResult } from './writeSpec.js';

/**
 * Stages a group, flushes it in one statement and redoes what did not land: from a read if it started from
 * what this process knew, under the row lock if it was read. A write failing while staging fails alone.
 */

/** A write waiting for its group, with its caller's settlement. */
export interface QueuedWrite {
  spec: LedgerWriteSpec;
  requestHash: string;
  resolve: (result: WriteResult) => void;
  reject: (error: unknown) => void;
}

/** One account's share of a group: the next writes of its queue. */
export interface AccountBatch {
  accountId: string;
  items: QueuedWrite[];
}

/** What this process remembers between writes on one database: accounts as it last saw them, and the database's clock. */
export interface AccountMemory {
  known: KnownAccounts;
  clock: DatabaseClock;
}

export const defaultUsageGroupWindowMs = 5 * 60_000;

type Outcome = { result: WriteResult } | { error: unknown };
/**
 * Not written: the account had moved since it was read ('conflict'); or since this process last
 * saw it, or a key of the write had been used on it (a retry), when it was not read ('stale').
 */
type AccountOutcome = Outcome[] | 'conflict' | 'stale';
type Staged = { replay: true } | { error: unknown } | { entries: StagedEntry[]; balance: bigint; outstanding: bigint };

/** One account's writes staged on its ledger; `wrote` when at least one of them is to be written. */
interface StagedAccount {
  ledger: AccountLedger;
  writes: Staged[];
  wrote: boolean;
  /** Started from what this process knew of the account, not from a read. */
  fromKnown: boolean;
}

/** Writes a group and settles every write in it; never rejects. */
export async function writeGroup(ctx: Pick<CoreContext, 'db' | 'usageGroupWindowMs'>, memory: AccountMemory, group: AccountBatch[]): Promise<void> {
  const groupWindowMs = ctx.usageGroupWindowMs ?? defaultUsageGroupWindowMs;
  let attempted: AccountOutcome[];
  try {
    attempted = await attempt(ctx.db.sql, memory, group, groupWindowMs, false);
  } catch (error) {
    // A failed statement wrote nothing. With several accounts in it, write each alone, so that
    // whatever failed fails only its own writes (a retry of a write that did land is a replay).
    if (group.length > 1) await Promise.all(group.map((batch) => writeGroup(ctx, memory, [batch])));
    else for (const item of group[0]!.items) item.reject(error);
    return;
  }
  await Promise.all(
    group.map(async (batch, i) => {
      const outcome = attempted[i]!;
      // Started from what this process knew, and another process (or a retried key) got there
      // first: the knowledge is gone, so the next try reads the account.
      if (outcome === 'stale') return writeGroup(ctx, memory, [batch]);
      if (outcome === 'conflict') return redoUnderLock(ctx.db, memory, batch, groupWindowMs);
      settle(batch, outcome);
    }),
  );
}

/** Another process wrote this account since it was read: redo it holding the account's row lock. */
async function redoUnderLock(db: Database, memory: AccountMemory, batch: AccountBatch, groupWindowMs: number): Promise<void> {
  let outcome: AccountOutcome;
  try {
    [outcome] = (await db.sql.transaction((tx) => attempt(tx, memory, [batch], groupWindowMs, true))) as [AccountOutcome];
    if (typeof outcome === 'string') throw new Error('ledger write lost its account lock'); // cannot happen under the lock
  } catch (error) {
    for (const item of batch.items) item.reject(error);
    return;
  }
  settle(batch, outcome);
}

function settle(batch: AccountBatch, outcomes: Outcome[]): void {
  outcomes.forEach((o, j) => ('error' in o ? batch.items[j]!.reject(o.error) : batch.items[j]!.resolve(o.result)));
}

/** Stages every write of the group on its account, writes them all in one statement, and says how each account's writes came out. */
async function attempt(session: SqlSession, memory: AccountMemory, group: AccountBatch[], groupWindowMs: number, lock: boolean): Promise<AccountOutcome[]> {
  if (lock) await session.query(lockAccountStatement, [group[0]!.accountId], 'creditkeeper_lock_account');
  const staged = await stageGroup(session, memory, group, groupWindowMs, lock);
  const written = await flush(session, [...staged.values()]);
  const outcomes: AccountOutcome[] = [];
  for (const batch of group) outcomes.push(await outcomeOf(session, memory, batch, staged.get(batch)!, written));
  return outcomes;
}

/**
 * Known accounts start as last seen, the rest are read in one statement; a known account that refused a write
 * is read too, as the refusal may be a retry of a key it does not know.
 */
async function stageGroup(
  session: SqlSession,
  memory: AccountMemory,
  group: AccountBatch[],
  groupWindowMs: number,
  lock: boolean,
): Promise<Map<AccountBatch, StagedAccount | null>> {
  const staged = new Map<AccountBatch, StagedAccount | null>();
  const unread: AccountBatch[] = [];
  for (const batch of group) {
    const known = !lock && batch.items[0]!.spec.batchable ? memory.known.take(batch.accountId) : undefined;
    const account = known && (await stage(session, batch, known, memory.clock.now(known.seenAt), groupWindowMs, null));
    if (account && account.writes.every((w) => !('error' in w))) staged.set(batch, account);
    else unread.push(batch);
  }
  if (unread.length === 0) return staged;
  const states = await readAccountStates(
    session,
    unread.map((batch) => ({ id: batch.accountId, keys: batch.items.map((item) => item.spec.idempotencyKey) })),
    memory.clock,
  );
  for (const batch of unread) {
    const state = states.get(batch.accountId);
    staged.set(batch, state ? await stage(session, batch, toSnapshot(batch.accountId, state), writeTime(state), groupWindowMs, state.replay_hashes) : null);
  }
  return staged;
}

/**
 * `usedKeys`: the keys used before with their requests; null when the account was not read, so the flush's
 * guard checks them instead.
 */
async function stage(
  session: SqlSession,
  batch: AccountBatch,
  account: AccountSnapshot,
  now: Date,
  groupWindowMs: number,
  usedKeys: Record<string, string> | null,
): Promise<StagedAccount> {
  const ledger = new AccountLedger(account, now, groupWindowMs);
  ledger.sweepExpired();
  const writes: Staged[] = [];
  for (const { spec, requestHash } of batch.items) {
    const previous = usedKeys?.[spec.idempotencyKey];
    if (previous !== undefined) {
      writes.push(previous === requestHash ? { replay: true } : { error: keyConflict(spec.idempotencyKey) });
      continue;
    }
    const mark = ledger.begin(spec.idempotencyKey, requestHash);
    try {
      await spec.write(ledger, session);
      ledger.settleOutstanding();
      if (spec.request.actor.kind === 'STAFF') ledger.audit(spec.operation, spec.request.actor, spec.request.origin, mark);
      writes.push({ entries: ledger.entriesSince(mark), ...ledger.state });
    } catch (error) {
      ledger.rollback(mark);
      writes.push({ error });
    }
  }
  return { ledger, writes, wrote: writes.some((w) => 'entries' in w), fromKnown: usedKeys === null };
}

function keyConflict(idempotencyKey: string): CreditkeeperError {
  return new CreditkeeperError('IDEMPOTENCY_CONFLICT', `Idempotency key ${idempotencyKey} was already used for a different request`, { idempotencyKey });
}

/** Returns the ids of the accounts moved; one whose writes all failed is not written at all, not even its sweep. */
async function flush(session: SqlSession, accounts: (StagedAccount | null)[]): Promise<Set<string>> {
  const flushes = accounts.flatMap((account) => (account?.wrote ? [toFlush(account.ledger.changes())] : []));
  if (flushes.length === 0) return new Set();
  const doc = mergeFlushes(flushes);
  const statement = flushStatement(doc);
  const [flushed] = await session.query<{ written: string[] }>(statement.text, [JSON.stringify(doc)], statement.name);
  return new Set(flushed!.written);
}

/** How one account's writes came out once the flush ran; a landed account is remembered as it now stands. */
async function outcomeOf(
  session: SqlSession,
  memory: AccountMemory,
  batch: AccountBatch,
  account: StagedAccount | null,
  written: Set<string>,
): Promise<AccountOutcome> {
  if (!account) return batch.items.map(() => ({ error: new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${batch.accountId}`) }));
  const { ledger, writes, wrote, fromKnown } = account;
  if (wrote && !written.has(ledger.accountId)) return fromKnown ? 'stale' : 'conflict';
  if (wrote || ledger.entries.length === 0) memory.known.remember(ledger.snapshot());
  const outcomes: Outcome[] = [];
  for (const [j, w] of writes.entries()) {
    if ('replay' in w) outcomes.push({ result: await replay(session, ledger.accountId, batch.items[j]!.spec.idempotencyKey) });
    else if ('error' in w) outcomes.push({ error: w.error });
    else {
      const entries = w.entries.map((e) => stagedEntryView(e, ledger.accountId, ledger.now));
      outcomes.push({ result: { entries, balance: w.balance, outstanding: w.outstanding, replayed: false } });
    }
  }
  return outcomes;
}

/** A retry's answer, from the entries its first attempt wrote. */
async function replay(session: SqlSession, accountId: string, key: string): Promise<WriteResult> {
  // The operation's own entry and those it derived keys for (`<key>#…`), all written by the same
  // statement and so stamped with the same time: found by that time, whatever the collation.
  const rows = await session.query<EntryRow>(
    `SELECT ${entryColumns} FROM entries e
     WHERE e.account_id = $1::uuid
       AND e.created_at = (SELECT o.created_at FROM entries o WHERE o.account_id = $1::uuid AND o.idempotency_key = $2)
       AND (e.idempotency_key = $2 OR starts_with(e.idempotency_key, $2 || '#'))
     ORDER BY e.seq`,
    [accountId, key],
  );
  const entries = rows.map((r) => toEntryView(r));
  const last = entries.at(-1)!;
  return { entries, balance: last.balanceAfter, outstanding: last.outstandingAfter, replayed: true };
}
