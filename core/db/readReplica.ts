import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { CreditkeeperError, isCreditkeeperError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Database } from './database.js';
import { openPool, poolRunner } from './database.js';
import { classifiedRunner, isDatabaseOutage } from './databaseErrors.js';
import type { SqlRunner } from './sqlRunner.js';

/**
 * Reports from a PostgreSQL hot standby (DATABASE_READ_URL) once it has replayed what they must show; behind, down
 * or failing, it leaves them to the primary. How and why: README "Reads from a replica".
 */

export type ReplicaState = 'unknown' | 'up' | 'lagging' | 'down';

/** What /readyz says of the standby; it never fails readiness. */
export interface ReplicaStatus {
  state: ReplicaState;
  reason?: string;
  /** WAL bytes the standby has still to replay of the primary's last position read (at most maxStalenessMs old). */
  lagBytes?: number;
}

export interface ReadReplicaOptions {
  poolSize?: number;
  /** How long a report waits for the standby to replay what it must show before the primary answers it. */
  maxWaitMs?: number;
  /** How far behind the primary a report on an account this process has not written may be (the primary's position is read again after this). */
  maxStalenessMs?: number;
  logger?: Logger;
}

/** The primary's WAL position, and the last write of this process it includes. */
interface Position {
  lsn: bigint;
  /** Every write this process acknowledged up to this count was committed before the position was read. */
  covers: number;
  readAt: number;
}

const defaultMaxWaitMs = 200;
const defaultMaxStalenessMs = 1_000;
/** A standby found behind or down is tried again this often; meanwhile reports go to the primary without asking it. */
const recheckEveryMs = 1_000;
/** How often a waiting report asks the standby where replay stands (one query serves all waiting reports). */
const pollEveryMs = 5;
/** Accounts remembered as written and not yet seen replayed; past this, the oldest are forgotten (and every account waits for them). */
const rememberedWrites = 100_000;
/** The primary answers whatever a standby cannot: no report should wait long for a standby's connection. */
const standbyConnectionTimeoutMs = 1_000;
/** What a standby says when replay must remove rows a query of it still reads (it cancels the query). */
const recoveryConflicts = new Set(['40001', '40P01']);

export class ReadReplica {
  /** Told of every acknowledged ledger write of the process (cli/wireProcess.ts composes it). */
  readonly observer = { entriesWritten: (accountId: string) => this.wrote(accountId) };
  private readonly pool: pg.Pool;
  private readonly sql: SqlRunner;
  private readonly maxWaitMs: number;
  private readonly maxStalenessMs: number;
  private state: ReplicaState = 'unknown';
  private reason: string | undefined;
  /** A standby found behind or down is not asked again before this. */
  private retryAt = 0;
  private rechecking = false;
  /** Writes acknowledged so far, and per account the count at its last one, oldest first. */
  private writes = 0;
  private readonly written = new Map<string, number>();
  /** The last write count among the accounts forgotten for room: an account not remembered may have been one. */
  private forgotten = 0;
  private position: Position | undefined;
  private asking: { covers: number; position: Promise<Position> } | undefined;
  /** The standby's replay position as last read; it only moves forward. */
  private replayed = 0n;
  private replaying: Promise<bigint> | undefined;

  constructor(
    url: string,
    private readonly primary: SqlRunner,
    private readonly options: ReadReplicaOptions = {},
  ) {
    this.pool = openPool(url, options.poolSize ?? 10, { connectionTimeoutMillis: standbyConnectionTimeoutMs, application_name: 'creditkeeper-reads' });
    this.sql = classifiedRunner(poolRunner(this.pool));
    this.maxWaitMs = options.maxWaitMs ?? defaultMaxWaitMs;
    this.maxStalenessMs = options.maxStalenessMs ?? defaultMaxStalenessMs;
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  /** The standby's SQL when it can answer a report on `accountId` (or on no account in particular) now; undefined: ask the primary. */
  async choose(accountId?: string): Promise<SqlRunner | undefined> {
    if (this.state === 'lagging' || this.state === 'down') {
      this.recheck();
      return undefined;
    }
    let target: Position;
    try {
      target = await this.primaryPosition(accountId === undefined ? 0 : (this.written.get(accountId) ?? this.forgotten));
    } catch {
      return undefined; // the primary cannot say where it is: it answers the report itself, or says why not
    }
    if (this.replayed >= target.lsn) this.caughtUp(target);
    else if (!(await this.check(target))) return undefined;
    return this.sql;
  }

  /**
   * Whether the primary retries a report the standby failed: the standby is away (then left alone a while), cancelled
   * it for replay, or lacks a row yet (`…_NOT_FOUND`, from a write not made through the ledger).
   */
  fallsBack(error: unknown): boolean {
    if (isDatabaseOutage(error)) {
      this.backOff('down', String(error.details.reason));
      return true;
    }
    if (isCreditkeeperError(error)) return error.code.endsWith('_NOT_FOUND');
    const code = (error as { code?: unknown } | null)?.code;
    return typeof code === 'string' && recoveryConflicts.has(code);
  }

  /** The standby for /readyz, never waiting: both positions read at once; behind or down, the last finding (the recheck asks). */
  async status(): Promise<ReplicaStatus> {
    let target = this.position;
    if (this.state === 'lagging' || this.state === 'down') this.recheck();
    else {
      let replayed: bigint | false;
      [target, replayed] = await Promise.all([this.primaryPosition(0).catch(() => undefined), this.readReplayed().catch((error: unknown) => this.standbyFailed(error))]);
      if (target && replayed !== false && replayed >= target.lsn) this.caughtUp(target);
    }
    return {
      state: this.state, ...(this.reason && { reason: this.reason }),
      ...(target && this.state !== 'down' && { lagBytes: Number(target.lsn > this.replayed ? target.lsn - this.replayed : 0n) }),
    };
  }

  private wrote(accountId: string): void {
    this.writes += 1;
    this.written.delete(accountId); // re-inserted last: the map stays in write order
    this.written.set(accountId, this.writes);
    if (this.written.size <= rememberedWrites) return;
    const [oldest, count] = this.written.entries().next().value!;
    this.written.delete(oldest);
    this.forgotten = count;
  }

  /** A position of the primary read after write number `covers` and at most maxStalenessMs ago; one read at a time serves all. */
  private async primaryPosition(covers: number): Promise<Position> {
    const known = this.position;
    if (known && known.covers >= covers && performance.now() - known.readAt < this.maxStalenessMs) return known;
    if (this.asking && this.asking.covers >= covers) return this.asking.position;
    const asking = { covers: this.writes, position: this.readPrimaryPosition(this.writes) };
    this.asking = asking;
    try {
      return await asking.position;
    } finally {
      if (this.asking === asking) this.asking = undefined;
    }
  }

  private async readPrimaryPosition(covers: number): Promise<Position> {
    const readAt = performance.now();
    // The write position: with synchronous commit, past the commit record of every write acknowledged before.
    const [row] = await this.primary.query<{ lsn: string }>(`SELECT (pg_current_wal_lsn() - '0/0')::text AS lsn`, [], 'creditkeeper_wal_position');
    const position = { lsn: BigInt(row!.lsn), covers, readAt };
    if (!this.position || covers >= this.position.covers) this.position = position;
    return position;
  }

  /**
   * Behind or down, the standby is rechecked in the background at most once a second, so no report waits on a
   * standby already found wanting.
   */
  private recheck(): void {
    if (this.rechecking || performance.now() < this.retryAt) return;
    this.rechecking = true;
    void this.primaryPosition(0)
      .then((target) => this.check(target))
      .catch(() => undefined) // the primary cannot say: the next round asks again
      .finally(() => (this.rechecking = false));
  }

  /** Asks the standby until it has replayed `target`, for up to maxWaitMs, and notes how it stands. */
  private async check(target: Position): Promise<boolean> {
    const deadline = performance.now() + this.maxWaitMs;
    try {
      while ((await this.readReplayed()) < target.lsn) {
        if (performance.now() >= deadline) {
          this.backOff('lagging', 'replay behind the primary');
          return false;
        }
        await sleep(pollEveryMs);
      }
      this.caughtUp(target);
      return true;
    } catch (error) {
      return this.standbyFailed(error);
    }
  }

  /** The standby could not be asked: it is down for a while. */
  private standbyFailed(error: unknown): false {
    this.backOff('down', isCreditkeeperError(error) ? String(error.details.reason) : String(error));
    return false;
  }

  /** The standby's replay position; concurrent callers share one query. */
  private readReplayed(): Promise<bigint> {
    this.replaying ??= this.sql
      .query<{ standby: boolean; replayed: string | null }>(
        `SELECT pg_is_in_recovery() AS standby, (pg_last_wal_replay_lsn() - '0/0')::text AS replayed`,
        [],
        'creditkeeper_replay_position',
      )
      .then(([row]) => {
        // A server that is not replaying (the primary itself, a promoted standby) is not one to read behind.
        if (!row!.standby) throw new CreditkeeperError('DATABASE_UNAVAILABLE', 'DATABASE_READ_URL is not a hot standby', { reason: 'not a standby' });
        const replayed = BigInt(row!.replayed ?? 0);
        if (replayed > this.replayed) this.replayed = replayed;
        return this.replayed;
      })
      .finally(() => (this.replaying = undefined));
    return this.replaying;
  }

  /** The standby has replayed `target`: the writes it covers need no more waiting for. */
  private caughtUp(target: Position): void {
    for (const [accountId, count] of this.written) {
      if (count > target.covers) break;
      this.written.delete(accountId);
    }
    this.enter('up');
  }

  /** Behind or down: reports go to the primary, and the standby is not asked again for a while. */
  private backOff(state: 'lagging' | 'down', reason: string): void {
    this.enter(state, reason);
    this.retryAt = performance.now() + recheckEveryMs;
  }

  /** Logged once per change of state (not of its reason): reports leave the standby, or come back to it. */
  private enter(state: ReplicaState, reason?: string): void {
    this.reason = reason;
    if (state === this.state) return;
    this.state = state;
    if (state === 'up') this.options.logger?.info({ replica: state }, 'Read replica up: reports are read from the standby');
    else this.options.logger?.warn({ replica: state, reason }, `Read replica ${state} (${reason}): reports are read from the primary`);
  }
}

/** What a report runs against: the database, and the standby beside it when there is one. */
type ReportContext = { db: Database; replica?: ReadReplica };

/** `read` on the standby when it can answer for `accountId` (undefined: no account in particular), else on the primary; never fails for the standby's sake. */
export async function readFromReplica<C extends ReportContext, T>(ctx: C, accountId: string | undefined, read: (ctx: C) => Promise<T>): Promise<T> {
  const standby = await ctx.replica?.choose(accountId);
  if (!standby) return read(ctx);
  try {
    return await read(onStandby(ctx, standby));
  } catch (error) {
    if (!ctx.replica!.fallsBack(error)) throw error;
    return read(ctx);
  }
}

/**
 * A streamed report (the CSV): a standby failing before the first chunk leaves it to the primary; once chunks are
 * out, a failure ends the stream, as the primary's would.
 */
export async function* streamFromReplica<C extends ReportContext>(ctx: C, accountId: string, stream: (ctx: C) => AsyncIterable<string>): AsyncGenerator<string> {
  const standby = await ctx.replica?.choose(accountId);
  if (!standby) return yield* stream(ctx);
  const chunks = stream(onStandby(ctx, standby))[Symbol.asyncIterator]();
  try {
    let next: IteratorResult<string>;
    try {
      next = await chunks.next();
    } catch (error) {
      if (!ctx.replica!.fallsBack(error)) throw error;
      return yield* stream(ctx);
    }
    for (; !next.done; next = await chunks.next()) yield next.value;
  } finally {
    await chunks.return?.();
  }
}

/** The context with the standby's SQL for its reads; writes (Prisma included) stay on the primary. */
function onStandby<C extends ReportContext>(ctx: C, sql: SqlRunner): C {
  return { ...ctx, db: { ...ctx.db, sql } };
}
