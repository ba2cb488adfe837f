import { CreditkeeperError, isCreditkeeperError } from '../errors.js';
import type { PrismaClient } from './generated/client.js';
import type { Database } from './database.js';
import type { SqlRunner, SqlSession } from './sqlRunner.js';

/** Seconds a caller should wait before retrying: reconnecting takes well under a second once the server answers. */
const unavailableRetryAfterSeconds = 2;
/** Storage comes back only when someone makes room; asking every second would not make it sooner. */
const storageFullRetryAfterSeconds = 30;

/** SQLSTATEs that say the server cannot take work now, not that the request is wrong. */
const unavailableStates: Record<string, string> = {
  '57P01': 'server shutting down', // admin_shutdown, also what pg_terminate_backend sends
  '57P02': 'server crashed', // crash_shutdown
  '57P03': 'server starting or stopping', // cannot_connect_now
  '53300': 'too many connections',
  '3D000': 'database does not exist',
};

/** Socket failures of the driver: the server is not there, or went away. */
const unavailableSockets: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'server unreachable',
  ENETUNREACH: 'server unreachable',
  ENOTFOUND: 'server unreachable',
  EAI_AGAIN: 'server unreachable',
};

/** What pg, pg-pool and PGlite say, without a code, when a connection ends or cannot be had. */
const unavailableMessages: [RegExp, string][] = [
  // pg's connectionTimeoutMillis and query_timeout: a server that neither answers nor refuses.
  [/connection timeout/i, 'connection timed out'],
  [/^Query read timeout/, 'query timed out'],
  [/^Connection terminated|not queryable|Connection ended/i, 'connection lost'],
  [/timeout exceeded when trying to connect/i, 'connection pool timed out'],
  // PGlite's, for a call that arrives while the process is closing the embedded database.
  [/^PGlite is clos(ed|ing)/, 'database closed'],
  // PostgreSQL's reason, from its log, when the embedded database cannot start (embeddedPostgres.ts).
  [/No space left on device/, 'storage full'],
];

/** The driver adapter's own kinds (Prisma), for failures it did not pass on with a SQLSTATE. */
const unavailableAdapterKinds: Record<string, string> = {
  DatabaseNotReachable: 'connection refused',
  ConnectionClosed: 'connection lost',
  SocketTimeout: 'connection timed out',
  TooManyConnections: 'too many connections',
  DatabaseDoesNotExist: 'database does not exist',
};

/** Prisma's codes for the same: cannot reach, timed out, connection closed, no pool connection in time. */
const unavailablePrismaCodes: Record<string, string> = {
  P1001: 'connection refused',
  P1002: 'connection timed out',
  P1017: 'connection lost',
  P2024: 'connection pool timed out',
};

/**
 * The one place that tells a database that is not there (pg, PGlite or Prisma-wrapped) from a request that went
 * wrong: the first becomes DATABASE_UNAVAILABLE or STORAGE_FULL with a reason and a wait; the rest pass unchanged.
 */
export function classifyDatabaseError(error: unknown): unknown {
  if (error instanceof CreditkeeperError || typeof error !== 'object' || error === null) return error;
  const reason = unavailableReason(error as DriverFailure);
  if (reason === undefined) return error;
  return outage(reason, error, reason === 'storage full' ? 'The database has run out of storage; nothing was written' : `The database cannot be used right now (${reason})`);
}

/** Whether `error` says the database is not there (DATABASE_UNAVAILABLE or STORAGE_FULL), not that the request went wrong. */
export function isDatabaseOutage(error: unknown): error is CreditkeeperError {
  return isCreditkeeperError(error, 'DATABASE_UNAVAILABLE') || isCreditkeeperError(error, 'STORAGE_FULL');
}

/**
 * What every call gets while the embedded instance is dead and not yet reopened: STORAGE_FULL while `cause` (the
 * crash or last failed reopening) is the disk, else DATABASE_UNAVAILABLE "database crashed".
 */
export function embeddedDatabaseDown(cause: unknown): CreditkeeperError {
  const storageFull = typeof cause === 'object' && cause !== null && unavailableReason(cause as DriverFailure) === 'storage full';
  return storageFull
    ? outage('storage full', cause, 'The embedded database stopped when its storage filled up; it reopens by itself once there is room')
    : outage('database crashed', cause, 'The embedded database crashed and is being reopened');
}

function outage(reason: string, cause: unknown, message: string): CreditkeeperError {
  const failure =
    reason === 'storage full'
      ? new CreditkeeperError('STORAGE_FULL', message, { retryAfterSeconds: storageFullRetryAfterSeconds, reason })
      : new CreditkeeperError('DATABASE_UNAVAILABLE', message, { retryAfterSeconds: unavailableRetryAfterSeconds, reason });
  // The driver's own error, for the log line of the 503.
  return Object.assign(failure, { cause });
}

interface DriverFailure {
  code?: unknown;
  severity?: unknown;
  message?: unknown;
  kind?: unknown;
  meta?: { driverAdapterError?: { cause?: DriverFailure } };
}

function unavailableReason(error: DriverFailure): string | undefined {
  const adapterCause = error.meta?.driverAdapterError?.cause;
  if (adapterCause) return unavailableReason(adapterCause);
  const code = typeof error.code === 'string' ? error.code : undefined;
  // PostgreSQL's disk_full (PGlite reports ENOSPC the same way), or the file system's own.
  if (code === '53100' || code === 'ENOSPC') return 'storage full';
  if (code !== undefined) {
    const known = unavailableStates[code] ?? unavailableSockets[code] ?? unavailablePrismaCodes[code];
    if (known) return known;
    if (code.startsWith('08')) return 'connection lost'; // connection_exception and its subclasses
  }
  // A FATAL error ends the session: the database refused this connection (not accepting
  // connections, authentication) or closed it, whatever the statement was.
  if (error.severity === 'FATAL' || error.severity === 'PANIC') return code === '55000' ? 'not accepting connections' : 'connection lost';
  if (typeof error.kind === 'string' && unavailableAdapterKinds[error.kind]) return unavailableAdapterKinds[error.kind];
  if (code === undefined && typeof error.message === 'string') return unavailableMessages.find(([pattern]) => pattern.test(error.message as string))?.[1];
  return undefined;
}

function rethrowClassified(error: unknown): never {
  throw classifyDatabaseError(error);
}

function classifiedSession(session: SqlSession): SqlSession {
  return {
    exec: (sql) => session.exec(sql).catch(rethrowClassified),
    query: <Row extends object>(sql: string, params?: unknown[], name?: string) => session.query<Row>(sql, params, name).catch(rethrowClassified),
  };
}

/** Raw SQL whose every driver failure is classified on the way out. */
export function classifiedRunner(runner: SqlRunner): SqlRunner {
  return {
    ...classifiedSession(runner),
    withSession: (work) => runner.withSession((session) => work(classifiedSession(session))).catch(rethrowClassified),
    transaction: (work) => runner.transaction((tx) => work(classifiedSession(tx))).catch(rethrowClassified),
  };
}

/** The database with every failure of its driver classified on the way out, raw SQL and Prisma alike. */
export function withClassifiedErrors(database: Database): Database {
  const extended = database.prisma.$extends({
    query: {
      $allOperations: ({ args, query }) => query(args).catch(rethrowClassified),
    },
  });
  // Operations are covered by the extension; opening a transaction is not an operation, so
  // $transaction's own failures (no connection for its BEGIN) are classified here.
  const prisma = new Proxy(extended, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (property !== '$transaction' || typeof value !== 'function') return value;
      return (...args: unknown[]) => (value.apply(target, args) as Promise<unknown>).catch(rethrowClassified);
    },
  });
  return {
    ...database,
    // Neither changes any method's shape, only what its promise rejects with.
    prisma: prisma as unknown as PrismaClient,
    sql: classifiedRunner(database.sql),
  };
}
