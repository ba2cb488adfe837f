import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import pg from 'pg';
import { withClassifiedErrors } from './databaseErrors.js';
import type { Logger } from '../logger.js';
import { acquireEmbeddedLock } from './embeddedLock.js';
import { openEmbeddedPostgres } from './embeddedPostgres.js';
import { PrismaClient } from './generated/client.js';
import { migrate } from './migrate.js';
import type { SqlRunner, SqlSession } from './sqlRunner.js';

export type DatabaseTarget =
  | { kind: 'postgres'; url: string; poolSize?: number }
  | { kind: 'embedded'; dataDir: string }
  | { kind: 'memory' };

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  readonly prisma: PrismaClient;
  readonly sql: SqlRunner;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** Told when the embedded database crashes and is reopened. */
  logger?: Logger;
}

/**
 * Opens PostgreSQL when a URL is given, otherwise the embedded PGlite database. A database that
 * cannot be reached or is out of storage fails with DATABASE_UNAVAILABLE or STORAGE_FULL.
 */
export async function openDatabase(target: DatabaseTarget, options: OpenOptions = {}): Promise<Database> {
  const database = withClassifiedErrors(target.kind === 'postgres' ? openPostgres(target.url, target.poolSize) : await openPglite(target, options.logger));
  if (options.migrate ?? true) {
    try {
      await migrate(database.sql);
    } catch (error) {
      await database.close();
      throw error;
    }
  }
  return database;
}

/** No statement may hold a connection (and the locks it took) for ever. */
const statementTimeoutMs = 30_000;
/**
 * The server cannot enforce its statement timeout while it does not run (stopped, a network that
 * drops packets): the client gives up a little later, so that normally the server answers first.
 */
const queryTimeoutMs = statementTimeoutMs + 5_000;
/** How long a request waits for a connection, new or from a full pool, before it is told 503. */
const connectionTimeoutMs = 5_000;

/** A PostgreSQL pool with the timeouts above (a read replica's waits less for a connection, and names itself). */
export function openPool(url: string, poolSize: number, options: Pick<pg.PoolConfig, 'connectionTimeoutMillis' | 'application_name'> = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    statement_timeout: statementTimeoutMs,
    query_timeout: queryTimeoutMs,
    connectionTimeoutMillis: connectionTimeoutMs,
    ...options,
  });
  // An idle connection closed by the server: the pool drops it and the next checkout gets a
  // fresh one. Without a listener the process would crash on the 'error' event.
  pool.on('error', () => {});
  return pool;
}

/** Raw SQL over a pool: a statement on any connection, a session or a transaction on one. */
export function poolRunner(pool: pg.Pool): SqlRunner {
  const runOn = (client: pg.Pool | pg.PoolClient): SqlSession => ({
    exec: async (sql) => {
      await client.query(sql);
    },
    query: async (sql, params, name) => (await client.query(name ? { name, text: sql, values: params } : { text: sql, values: params })).rows,
  });
  return {
    ...runOn(pool),
    withSession: async (work) => {
      const client = await pool.connect();
      try {
        return await work(runOn(client));
      } finally {
        client.release();
      }
    },
    transaction: async (work) => {
      const client = await pool.connect();
      let reusable = true;
      try {
        await client.query('BEGIN');
        const result = await work(runOn(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // If even ROLLBACK fails the connection is unusable: destroy it rather than pool it.
        await client.query('ROLLBACK').catch(() => {
          reusable = false;
        });
        throw error;
      } finally {
        client.release(!reusable);
      }
    },
  };
}

function openPostgres(url: string, poolSize = 10): Database {
  const pool = openPool(url, poolSize);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const sql = poolRunner(pool);
  let maintaining = false; // one round at a time: a vacuum may outlast the interval
  const maintenance = setInterval(() => {
    if (maintaining) return;
    maintaining = true;
    void sql.withSession(maintainTables)
      .catch(() => undefined) // no connection to be had now: the next round tries again
      .finally(() => (maintaining = false));
  }, maintenanceCheckEveryMs);
  maintenance.unref();
  return {
    kind: 'postgres',
    prisma,
    sql,
    close: async () => {
      clearInterval(maintenance);
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

const statisticsEveryMs = 5 * 60_000;
const maintenanceCheckEveryMs = 15_000;

/**
 * What autovacuum would do, where the server does not: ANALYZE so prepared plans follow the data, VACUUM only where
 * autovacuum is off (README: Planner statistics and vacuum). `session` is one connection, its timeout lifted.
 */
export async function maintainTables(session: SqlSession): Promise<void> {
  const due = await session.query<{ name: string; vacuum: boolean }>(
    `SELECT format('%I.%I', schemaname, relname) AS name, needs_vacuum AS vacuum FROM (
       SELECT schemaname, relname, n_mod_since_analyze > 50 + 0.1 * greatest(n_live_tup, 0) AS needs_analyze,
         current_setting('autovacuum') = 'off' AND n_dead_tup > 50 + 0.2 * greatest(n_live_tup, 0) AS needs_vacuum
       FROM pg_stat_user_tables) t
     WHERE needs_analyze OR needs_vacuum`,
  );
  if (due.length === 0) return;
  await session.exec('SET statement_timeout = 0');
  try {
    // SKIP_LOCKED: another process busy with the same table has it in hand.
    for (const { name, vacuum } of due) await session.exec(vacuum ? `VACUUM (ANALYZE, SKIP_LOCKED) ${name}` : `ANALYZE (SKIP_LOCKED) ${name}`);
  } finally {
    await session.exec('RESET statement_timeout');
  }
}

async function openPglite(target: { kind: 'embedded'; dataDir: string } | { kind: 'memory' }, logger: Logger | undefined): Promise<Database> {
  // Held for the process's life, also while the instance is reopened after a crash.
  const lock = target.kind === 'embedded' ? acquireEmbeddedLock(target.dataDir) : undefined;
  try {
    const embedded = await openEmbeddedPostgres(target.kind === 'embedded' ? target.dataDir : undefined, logger);
    const { pglite } = embedded;
    const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
    const session: SqlSession = {
      exec: async (sql) => {
        await pglite.exec(sql);
      },
      query: async (sql, params) => (await pglite.query(sql, params)).rows as never,
    };
    // PGlite runs no autovacuum, so nothing would ever give the planner statistics: without them
    // it misjudges queries on a long history (an activity page, a report). Refresh them now and then.
    const analyze = () => pglite.exec('ANALYZE').catch(() => undefined);
    const statistics = setInterval(analyze, statisticsEveryMs);
    statistics.unref();
    return {
      kind: 'pglite',
      prisma,
      sql: {
        ...session,
        // PGlite is a single connection: every call is already one session.
        withSession: (work) => work(session),
        transaction: (work) =>
          pglite.transaction((tx) =>
            work({
              exec: async (sql) => {
                await tx.exec(sql);
              },
              query: async (sql, params) => (await tx.query(sql, params)).rows as never,
            }),
          ),
      },
      close: async () => {
        clearInterval(statistics);
        await prisma.$disconnect();
        await embedded.close();
        lock?.release();
      },
    };
  } catch (error) {
    lock?.release();
    throw error;
  }
}
