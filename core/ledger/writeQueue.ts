import type { CoreContext } from '../context.js';
import type { Database } from '../db/database.js';
import type { SqlSession } from '../db/sqlRunner.js';
import { readAccountStates, toSnapshot, writeTime } from './accountState.js';
import { DatabaseClock, KnownAccounts } from './knownAccounts.js';
import { type AccountBatch, type AccountMemory, type QueuedWrite, writeGroup } from './writeAttempt.js';
import { type LedgerWriteSpec, requestHashOf, type WriteResult } from './writeSpec.js';

/**
 * Writes arriving while groups are in flight wait and go together (one read, one statement, one commit), so
 * throughput grows with load.
 */

/** One account's writes waiting in this process; at most one batch of them is being written at a time. */
interface AccountQueue {
  accountId: string;
  waiting: QueuedWrite[];
}

/** What this process is writing to one database. */
interface Writer extends AccountMemory {
  /** Accounts with writes waiting or being written. */
  accounts: Map<string, AccountQueue>;
  /** Accounts with writes waiting and none being written, oldest first. */
  ready: AccountQueue[];
  /** Groups of batchable writes being written now (writes that run alone are not counted). */
  groupsWriting: number;
  /** Bursts being queued, and callers of settled writes coming back: no group starts until they are all in. */
  holding: number;
  /** Writes settled since the event loop last turned, whose callers may come straight back. */
  callersReturning: boolean;
}

/** Writes of one account in one group. */
const maxBatch = 100;
/** Accounts in one group. */
const maxGroupAccounts = 64;
/** Two keep both the server and this process busy; more only split the same work into smaller transactions. */
const maxGroupsWriting = 2;
/** Accounts this process keeps as it last saw them, to start their next write from (~2.5 KB each with two buckets: ~50 MB). */
const maxKnownAccounts = 20_000;
const writers = new WeakMap<Database, Writer>();

/** Queues the write on its account and settles with its outcome once its group is written. */
export function enqueueWrite(ctx: CoreContext, spec: LedgerWriteSpec): Promise<WriteResult> {
  const requestHash = requestHashOf(spec.operation, spec.request);
  return new Promise((resolve, reject) => {
    const writer = writerFor(ctx.db);
    const accountId = spec.accountId.toLowerCase(); // as the database writes a uuid
    let queue = writer.accounts.get(accountId);
    if (!queue) {
      queue = { accountId, waiting: [] };
      writer.accounts.set(accountId, queue);
      writer.ready.push(queue);
    }
    const settled = () => awaitCallers(ctx, writer);
    queue.waiting.push({ spec, requestHash, resolve: (result) => (settled(), resolve(result)), reject: (error) => (settled(), reject(error)) });
    startGroups(ctx, writer);
  });
}

/**
 * Writes queued while `queue` runs form groups only once it returns, so a burst (a renewal batch's first writes)
 * goes together rather than its first two alone, each a round trip.
 */
export function enqueueTogether<T>(ctx: CoreContext, queue: () => T): T {
  const writer = writerFor(ctx.db);
  writer.holding += 1;
  try {
    return queue();
  } finally {
    writer.holding -= 1;
    startGroups(ctx, writer);
  }
}

/**
 * Accounts about to be written (a renewal batch), read in one statement as if this process had just written them
 * (the flush's guard still checks each); one whose key was used is left to its write's own read, which replays it.
 */
export async function readAhead(ctx: CoreContext, session: SqlSession, accounts: { id: string; keys: string[] }[]): Promise<void> {
  const writer = writerFor(ctx.db);
  const states = await readAccountStates(session, accounts, writer.clock);
  for (const [id, state] of states) {
    if (Object.keys(state.replay_hashes).length === 0) writer.known.remember({ ...toSnapshot(id, state), seenAt: writeTime(state) });
  }
}

function writerFor(db: Database): Writer {
  let writer = writers.get(db);
  if (!writer) {
    writer = { accounts: new Map(), ready: [], groupsWriting: 0, holding: 0, callersReturning: false, known: new KnownAccounts(maxKnownAccounts), clock: new DatabaseClock() };
    writers.set(db, writer);
  }
  return writer;
}

/**
 * The callers of settled writes go on in microtasks, and many come straight back with their next write: groups wait
 * for them until the event loop turns, so those writes go together instead of the first one alone in a free slot.
 */
function awaitCallers(ctx: CoreContext, writer: Writer): void {
  if (writer.callersReturning) return;
  writer.callersReturning = true;
  writer.holding += 1;
  setImmediate(() => {
    writer.callersReturning = false;
    writer.holding -= 1;
    startGroups(ctx, writer);
  });
}

function startGroups(ctx: CoreContext, writer: Writer): void {
  if (writer.holding > 0) return;
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
  // Its writes settled first, so awaitCallers holds the next groups until their callers' next writes are in.
  void writeGroup(ctx, writer, group).finally(() => {
    if (countsAsGroup) writer.groupsWriting -= 1;
    for (const { accountId } of group) {
      const queue = writer.accounts.get(accountId)!;
      if (queue.waiting.length > 0) writer.ready.push(queue);
      else writer.accounts.delete(accountId);
    }
    startGroups(ctx, writer);
  });
}

/** The next batch of each ready account, oldest first, up to a group's size (all batchable: startGroups took the others). */
function nextGroup(ready: AccountQueue[]): AccountBatch[] {
  return ready.splice(0, maxGroupAccounts).map((queue) => ({ accountId: queue.accountId, items: nextBatch(queue.waiting) }));
}

/** The first waiting write, and the batchable ones right behind it (one per idempotency key). */
function nextBatch(waiting: QueuedWrite[]): QueuedWrite[] {
  const batch = [waiting.shift()!];
  if (!batch[0]!.spec.batchable) return batch;
  const keys = new Set([batch[0]!.spec.idempotencyKey]);
  while (batch.length < maxBatch && waiting[0]?.spec.batchable && !keys.has(waiting[0].spec.idempotencyKey)) {
    keys.add(waiting[0].spec.idempotencyKey);
    batch.push(waiting.shift()!);
  }
  return batch;
}
