import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import pg from 'pg';
import { acquireEmbeddedLock } from './embeddedLock.js';
import { PrismaClient } from './generated/client.js';
import { migrate } from './migrate.js';
import type { SqlRunner } from './sqlRunner.js';

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
}

/** Opens PostgreSQL when a URL is given, otherwise the embedded PGlite database. */
export async function openDatabase(target: DatabaseTarget, options: OpenOptions = {}): Promise<Database> {
  const database = target.kind === 'postgres' ? openPostgres(target.url, target.poolSize) : await openPglite(target);
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

function openPostgres(url: string, poolSize = 10): Database {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const runOn = (client: pg.Pool | pg.PoolClient): Omit<SqlRunner, 'withSession'> => ({
    exec: async (sql) => {
      await client.query(sql);
    },
    query: async (sql, params) => (await client.query(sql, params)).rows,
  });
  return {
    kind: 'postgres',
    prisma,
    sql: {
      ...runOn(pool),
      withSession: async (work) => {
        const client = await pool.connect();
        try {
          return await work(runOn(client));
        } finally {
          client.release();
        }
      },
    },
    close: async () => {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function openPglite(target: { kind: 'embedded'; dataDir: string } | { kind: 'memory' }): Promise<Database> {
  const lock = target.kind === 'embedded' ? acquireEmbeddedLock(target.dataDir) : undefined;
  try {
    const pglite = target.kind === 'embedded' ? await PGlite.create(target.dataDir) : await PGlite.create();
    const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
    const session: Omit<SqlRunner, 'withSession'> = {
      exec: async (sql) => {
        await pglite.exec(sql);
      },
      query: async (sql, params) => (await pglite.query(sql, params)).rows as never,
    };
    return {
      kind: 'pglite',
      prisma,
      // PGlite is a single connection: every call is already one session.
      sql: { ...session, withSession: (work) => work(session) },
      close: async () => {
        await prisma.$disconnect();
        await pglite.close();
        lock?.release();
      },
    };
  } catch (error) {
    lock?.release();
    throw error;
  }
}
