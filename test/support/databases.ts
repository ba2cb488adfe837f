import { afterAll, beforeAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Database, openDatabase } from '../../core/db/database.js';
import type { CoreContext } from '../../core/context.js';
import { seedPriceList } from '../../core/pricing/priceList.js';
import { seedPlans } from '../../core/plans/planCatalog.js';

/** The two engines every ledger test runs on. */
export const engines = ['pglite', 'postgres'] as const;
export type Engine = (typeof engines)[number];

function serverUrl(): string {
  return process.env.TEST_DATABASE_URL ?? 'postgresql://root@127.0.0.1:5432/test';
}

/** A fresh, migrated database of its own: in-memory PGlite, or a new PostgreSQL database dropped on close. */
export async function freshDatabase(engine: Engine, poolSize = 10): Promise<Database> {
  if (engine === 'pglite') return openDatabase({ kind: 'memory' });
  const name = `ck_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  const db = await openDatabase({ kind: 'postgres', url: url.toString(), poolSize });
  return {
    ...db,
    close: async () => {
      await db.close();
      const cleanup = new pg.Client({ connectionString: serverUrl() });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

export async function freshContext(engine: Engine, poolSize?: number): Promise<CoreContext> {
  return { db: await freshDatabase(engine, poolSize), priceList: seedPriceList, plans: seedPlans };
}

/** The address of a context's PostgreSQL database, for another process to open. */
export async function databaseUrl(ctx: CoreContext): Promise<string> {
  const [row] = await ctx.db.sql.query<{ name: string }>('SELECT current_database() AS name');
  const url = new URL(process.env.TEST_DATABASE_URL!);
  url.pathname = `/${row!.name}`;
  return url.toString();
}

/** The same PostgreSQL database with a connection pool of its own: another process as far as the server can tell. */
export async function anotherProcess(ctx: CoreContext, poolSize?: number): Promise<CoreContext> {
  return { ...ctx, db: await openDatabase({ kind: 'postgres', url: await databaseUrl(ctx), poolSize }) };
}

/** A fresh database for one describe block: opened before its tests, closed after. */
export function useFreshDatabase(engine: Engine): Database {
  const db = {} as Database;
  beforeAll(async () => {
    Object.assign(db, await freshDatabase(engine));
  });
  afterAll(async () => {
    await db.close?.();
  });
  return db;
}
