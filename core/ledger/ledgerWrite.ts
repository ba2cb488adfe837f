import { createHash } from 'node:crypto';
import type { CoreContext } from '../context.js';
import type { Database } from '../db/database.js';
import type { BucketKind, EntryType } from '../db/generated/enums.js';
import type { SqlSession } from '../db/sqlRunner.js';
import { CreditkeeperError } from '../errors.js';
import type { Actor, Origin } from '../input.js';
import { AccountLedger, type AccountSnapshot, type BucketState, type FlushPayload, type StagedEntry } from './accountLedger.js';
import { DatabaseClock, KnownAccounts } from './knownAccounts.js';
import { type EntryRow, type EntryView, entryColumns, toEntryView } from './entryView.js';
import { type FlushPart, flushParts, flushStatement, lockAccountStatement, readStateStatement } from './writeStatements.js';

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
   * The staging reads nothing but the ledger itself (spends, purchases, grants, adjustments,
   * renewals): such writes are committed together with the others waiting, on any account.
   * Writes that read entries or deposits of their own (refunds, reversals, reconciliations) run
   * alone, so what they read cannot be changed by a write staged beside them.
   */
  batchable?: boolean;
}

/**
 * The one way credits move. Read the account's state, stage the operation, and write all of it
 * in one statement that only applies if no other write landed on the account in between (its
 * sequence number is unchanged) and the operation's key is unused: two round trips, no lock held
 * across them. An account this process wrote or read lately starts from how it then stood instead
 * of a read (knownAccounts.ts): one round trip. If another process did write, try again from a read,
 * and if it wrote once more, redo it holding the account's row lock, where it cannot miss.
 *
 * Within a process, writes on one account queue, and at most two groups of writes are in flight;
 * what arrives meanwhile waits and then goes as one group: one read of all its accounts not known,
 * each write staged in turn on its account (a failing one is undone alone and fails alone), one
 * statement, one commit. A busy account's queued writes go in one group too, so throughput grows
 * with load.
 */
export async function ledgerWrite(ctx: CoreContext, spec: LedgerWriteSpec): Promise<WriteResult> {
  if (!ctx.observer) return write(ctx, spec);
  const started = performance.now();
  try {
    const result = await write(ctx, spec);
    ctx.observer.ledgerWrite?.(spec.operation, result.replayed ? 'replayed' : 'written', (performance.now() - started) / 1000);
    if (!result.replayed) ctx.observer.entriesWritten?.(spec.accountId, result);
    return result;
  } catch (error) {
    const outcome = error instanceof CreditkeeperError ? error.code : 'INTERNAL';
    ctx.observer.ledgerWrite?.(spec.operation, outcome, (performance.now() - started) / 1000);
    throw error;
  }
}

interface Queued {
  spec: LedgerWriteSpec;
  requestHash: string;
  resolve: (result: WriteResult) => void;
  reject: (error: unknown) => void;
}

/** One account's writes waiting in this process; at most one batch of them is being written at a time. */
interface AccountQueue {
  accountId: string;
  waiting: Queued[];
}

/** What this process is writing to one database. */
interface Writer {
  /** Accounts with writes waiting or being written. */
  accounts: Map<string, AccountQueue>;
  /** Accounts with writes waiting and none being written, oldest first. */
  ready: AccountQueue[];
  /** Groups of batchable writes being written now (writes that run alone are not counted). */
  groupsWriting: number;
  known: KnownAccounts;
  clock: DatabaseClock;
}

/** One account's share of a group: the next writes of its queue. */
interface AccountBatch {
  accountId: string;
  items: Queued[];
}

/** Writes of one account in one group. */
const maxBatch = 100;
/** Accounts in one group. */
const maxGroupAccounts = 64;
/**
 * Groups written at once. While they are in flight, new writes wait and then go together: one
 * round trip and one commit for many. Two keep both the server and this process busy; more
 * only split the same work into more, smaller transactions.
 */
const maxGroupsWriting = 2;
/** Accounts this process keeps as it last saw them, to start their next write from (~2.5 KB each with two buckets: ~50 MB). */
const maxKnownAccounts = 20_000;
const writers = new WeakMap<Database, Writer>();

function write(ctx: CoreContext, spec: LedgerWriteSpec): Promise<WriteResult> {
  const requestHash = requestHashOf(spec.operation, spec.request);
  return new Promise((resolve, reject) => {
    let writer = writers.get(ctx.db);
    if (!writer) {
      writer = { accounts: new Map(), ready: [], groupsWriting: 0, known: new KnownAccounts(maxKnownAccounts), clock: new DatabaseClock() };
      writers.set(ctx.db, writer);
    }
    const accountId = spec.accountId.toLowerCase(); // as the database writes a uuid
    let queue = writer.accounts.get(accountId);
    if (!queue) {
      queue = { accountId, waiting: [] };
      writer.accounts.set(accountId, queue);
      writer.ready.push(queue);
    }
    queue.waiting.push({ spec, requestHash, resolve, reject });
    startGroups(ctx, writer);
  });
}

function startGroups(ctx: CoreContext, writer: Writer): void {
  // A write that must run alone cannot share a statement, so it does not wait for a group's turn.
  for (let i = 0; i < writer.ready.length; ) {
    const queue = writer.ready[i]!;
    if (queue.waiting[0]!.spec.batchable) i += 1;
    else {
      writer.ready.splice(i, 1);
      startGroup(ctx, writer, [{ accountId: queue.accountId, items: nextBatch(queue.waiting) }], false);
    }
  }
  while (writer.groupsWriting < maxGroupsWriting && writer.ready.length > 0) {
    startGroup(ctx, writer, nextGroup(writer.ready), true);
  }
}

function startGroup(ctx: CoreContext, writer: Writer, group: AccountBatch[], countsAsGroup: boolean): void {
  if (countsAsGroup) writer.groupsWriting += 1;
  // The callers of the writes just settled go on in microtasks, and many come straight back with
  // their next write: the slot is given up only after they have, so that those writes make the next
  // group together instead of each taking the slot alone as it arrives.
  void commit(ctx, writer, group).finally(() =>
    setImmediate(() => {
      if (countsAsGroup) writer.groupsWriting -= 1;
      for (const { accountId } of group) {
        const queue = writer.accounts.get(accountId)!;
        if (queue.waiting.length > 0) writer.ready.push(queue);
        else writer.accounts.delete(accountId);
      }
      startGroups(ctx, writer);
    }),
  );
}

/** The next batch of each ready account, oldest first, up to a group's size (all batchable: startGroups took the others). */
function nextGroup(ready: AccountQueue[]): AccountBatch[] {
  return ready.splice(0, maxGroupAccounts).map((queue) => ({ accountId: queue.accountId, items: nextBatch(queue.waiting) }));
}

/** The first waiting write, and the batchable ones right behind it (one per idempotency key). */
function nextBatch(waiting: Queued[]): Queued[] {
  const batch = [waiting.shift()!];
  if (!batch[0]!.spec.batchable) return batch;
  const keys = new Set([batch[0]!.spec.idempotencyKey]);
  while (batch.length < maxBatch && waiting[0]?.spec.batchable && !keys.has(waiting[0].spec.idempotencyKey)) {
    keys.add(waiting[0].spec.idempotencyKey);
    batch.push(waiting.shift()!);
  }
  return batch;
}

/** Writes a group and settles every write in it; never rejects. */
async function commit(ctx: CoreContext, writer: Writer, group: AccountBatch[]): Promise<void> {
  const groupWindowMs = ctx.usageGroupWindowMs ?? defaultUsageGroupWindowMs;
  let attempted: AccountOutcome[];
  try {
    attempted = await attempt(ctx.db.sql, writer, group, groupWindowMs, false);
  } catch (error) {
    // A failed statement wrote nothing. With several accounts in it, write each alone, so that
    // whatever failed fails only its own writes (a retry of a write that did land is a replay).
    if (group.length > 1) {
      await Promise.all(group.map((batch) => commit(ctx, writer, [batch])));
    } else {
      for (const item of group[0]!.items) item.reject(error);
    }
    return;
  }
  await Promise.all(
    group.map(async (batch, i) => {
      let outcome = attempted[i]!;
      // Started from what this process knew, and another process (or a retried key) got there
      // first: the knowledge is gone, so the next try reads the account.
      if (outcome === 'stale') return commit(ctx, writer, [batch]);
      if (outcome === 'conflict') {
        // Another process wrote this account since it was read: redo it holding the account's row lock.
        try {
          [outcome] = (await ctx.db.sql.transaction((tx) => attempt(tx, writer, [batch], groupWindowMs, true))) as [AccountOutcome];
          if (typeof outcome === 'string') throw new Error('ledger write lost its account lock'); // cannot happen under the lock
        } catch (error) {
          for (const item of batch.items) item.reject(error);
          return;
        }
      }
      outcome.forEach((o, j) => ('error' in o ? batch.items[j]!.reject(o.error) : batch.items[j]!.resolve(o.result)));
    }),
  );
}

export const defaultUsageGroupWindowMs = 5 * 60_000;

type Outcome = { result: WriteResult } | { error: unknown };
/**
 * Not written: the account had moved since it was read ('conflict'); or since this process last
 * saw it, or a key of the write had been used on it (a retry), when it was not read ('stale').
 */
type AccountOutcome = Outcome[] | 'conflict' | 'stale';
type Staged = { replay: true } | { error: unknown } | { entries: StagedEntry[]; balance: bigint; outstanding: bigint };

/**
 * Stages every write of the group on its account and writes them all in one statement. An
 * account starts as this process last saw it when it knows it (batchable writes only), and is
 * read otherwise: all those of the group in one statement. A known account whose staging
 * refused a write is read too, since the refusal may be a retry of a key it does not know.
 */
async function attempt(session: SqlSession, writer: Writer, group: AccountBatch[], groupWindowMs: number, lock: boolean): Promise<AccountOutcome[]> {
  if (lock) await session.query(lockAccountStatement, [group[0]!.accountId], 'creditkeeper_lock_account');
  const staged = new Map<AccountBatch, StagedAccount | null>();
  const unread: AccountBatch[] = [];
  for (const batch of group) {
    const known = !lock && batch.items[0]!.spec.batchable ? writer.known.take(batch.accountId) : undefined;
    const account = known && (await stage(session, batch, known, writer.clock.now(known.seenAt), groupWindowMs, null));
    if (account && account.writes.every((w) => !('error' in w))) staged.set(batch, account);
    else unread.push(batch);
  }
  if (unread.length > 0) {
    const rows = await session.query<{ account_id: string; state: AccountState }>(
      readStateStatement,
      [JSON.stringify(unread.map((batch) => ({ id: batch.accountId, keys: batch.items.map((item) => item.spec.idempotencyKey) })))],
      'creditkeeper_read_state',
    );
    if (rows.length > 0) writer.clock.observe(new Date(rows[0]!.state.now), Date.now());
    const states = new Map(rows.map((row) => [row.account_id, row.state]));
    for (const batch of unread) {
      const state = states.get(batch.accountId);
      staged.set(batch, state ? await stage(session, batch, toSnapshot(batch.accountId, state), writeTime(state), groupWindowMs, state.replay_hashes) : null);
    }
  }

  // An account none of whose writes succeeded is not written at all, not even its sweep (the next write will make it).
  const flushes = [...staged.values()].flatMap((account) => (account?.wrote ? [account.ledger.toFlush()] : []));
  let written = new Set<string>();
  if (flushes.length > 0) {
    const doc = mergeFlushes(flushes);
    const statement = flushStatement(doc);
    const [flushed] = await session.query<{ written: string[] }>(statement.text, [JSON.stringify(doc)], statement.name);
    written = new Set(flushed!.written);
  }

  const outcomes: AccountOutcome[] = [];
  for (const batch of group) {
    const account = staged.get(batch);
    if (!account) {
      outcomes.push(batch.items.map(() => ({ error: new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${batch.accountId}`) })));
      continue;
    }
    const { ledger, writes, wrote, fromKnown } = account;
    if (wrote && !written.has(ledger.accountId)) {
      outcomes.push(fromKnown ? 'stale' : 'conflict');
      continue;
    }
    if (wrote || ledger.entries.length === 0) writer.known.remember(ledger.snapshot());
    const accountOutcomes: Outcome[] = [];
    for (const [j, w] of writes.entries()) {
      if ('replay' in w) accountOutcomes.push({ result: await replay(session, ledger.accountId, batch.items[j]!.spec.idempotencyKey) });
      else if ('error' in w) accountOutcomes.push({ error: w.error });
      else {
        accountOutcomes.push({
          result: {
            entries: w.entries.map((e) => toEntryView({ ...e, accountId: ledger.accountId, createdAt: ledger.now })),
            balance: w.balance,
            outstanding: w.outstanding,
            replayed: false,
          },
        });
      }
    }
    outcomes.push(accountOutcomes);
  }
  return outcomes;
}

/**
 * A read account's write happens at the database's now, or at its last entry's time if that is
 * later (written by a process whose clock ran up to half a round trip ahead): entry times never
 * go back along an account's seq, which is what lets reports find a moment's first entry by time.
 */
function writeTime(state: AccountState): Date {
  const now = new Date(state.now);
  const last = state.last_entry && new Date(state.last_entry.created_at);
  return last && last > now ? last : now;
}

/** One account's writes staged on its ledger; `wrote` when at least one of them is to be written. */
interface StagedAccount {
  ledger: AccountLedger;
  writes: Staged[];
  wrote: boolean;
  /** Started from what this process knew of the account, not from a read. */
  fromKnown: boolean;
}

/**
 * Stages one account's writes in turn on its ledger; a failing one is undone alone and fails
 * alone. `usedKeys`: the writes' keys used before, with the request each was used for; null
 * when the account was not read, so its keys are unknown (the flush's guard checks them).
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
      writes.push(
        previous === requestHash
          ? { replay: true }
          : {
              error: new CreditkeeperError('IDEMPOTENCY_CONFLICT', `Idempotency key ${spec.idempotencyKey} was already used for a different request`, {
                idempotencyKey: spec.idempotencyKey,
              }),
            },
      );
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

/** The accounts' flushes as one document. */
function mergeFlushes(flushes: FlushPayload[]): Record<FlushPart | 'accounts', object[]> {
  const doc = { accounts: flushes.map((f) => f.account) } as Record<FlushPart | 'accounts', object[]>;
  for (const part of flushParts) doc[part] = flushes.flatMap((f) => f[part]);
  return doc;
}

/** One account as the state read returns it. */
interface AccountState {
  balance: string;
  outstanding: string;
  last_seq: string;
  now: string;
  replay_hashes: Record<string, string>;
  buckets: RawBucket[];
  last_entry: {
    type: EntryType;
    category: string | null;
    source_kind: string | null;
    source_id: string | null;
    group_seq: string;
    group_started_at: string;
    created_at: string;
  } | null;
}

function toSnapshot(accountId: string, state: AccountState): AccountSnapshot {
  const last = state.last_entry;
  return {
    id: accountId,
    balance: BigInt(state.balance),
    outstanding: BigInt(state.outstanding),
    lastSeq: BigInt(state.last_seq),
    buckets: state.buckets.map(toBucketState),
    lastEntry: last && {
      type: last.type,
      category: last.category,
      sourceKind: last.source_kind,
      sourceId: last.source_id,
      groupSeq: BigInt(last.group_seq),
      groupStartedAt: new Date(last.group_started_at),
    },
    seenAt: null,
  };
}

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

/** What makes two requests "the same" for a retry: the operation and its input, where it came from aside. */
export function requestHashOf(operation: string, request: LedgerWriteSpec['request']): string {
  const { origin: _origin, ...sameness } = request;
  return hashRequest(operation, sameness);
}

export function hashRequest(operation: string, request: unknown): string {
  const canonical = JSON.stringify({ operation, request }, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Date) return value.toISOString();
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return value;
  });
  return createHash('sha256').update(canonical).digest('hex');
}

interface RawBucket {
  id: string;
  kind: BucketKind;
  granted: string;
  remaining: string;
  priority: number;
  expires_at: string | null;
  created_at: string;
}

export function toBucketState(raw: RawBucket): BucketState {
  return {
    id: raw.id,
    kind: raw.kind,
    granted: BigInt(raw.granted),
    remaining: BigInt(raw.remaining),
    priority: raw.priority,
    expiresAt: raw.expires_at === null ? null : new Date(raw.expires_at),
    createdAt: new Date(raw.created_at),
    isNew: false,
    changed: false,
  };
}
