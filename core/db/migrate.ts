import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreditkeeperError } from '../errors.js';
import type { SqlRunner, SqlSession } from './sqlRunner.js';

/**
 * Our own runner, since Prisma's native engine may not download; it records in `_prisma_migrations` with
 * Prisma's checksums so `prisma migrate status/deploy` agree, under one advisory lock for concurrent starters.
 */
export const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'prisma', 'migrations');

const migrationLockKey = 7_262_534_011; // any constant shared by every Creditkeeper process

export interface LocalMigration {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = migrationsDir): LocalMigration[] {
  return readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isDirectory())
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

interface AppliedRow extends Record<string, unknown> {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

export async function migrate(runner: SqlRunner, dir = migrationsDir): Promise<{ applied: string[] }> {
  const local = readMigrations(dir);
  return runner.withSession(async (session) => {
    await session.query('SELECT pg_advisory_lock($1)', [migrationLockKey]);
    try {
      await session.exec(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
        "id" VARCHAR(36) PRIMARY KEY NOT NULL,
        "checksum" VARCHAR(64) NOT NULL,
        "finished_at" TIMESTAMPTZ,
        "migration_name" VARCHAR(255) NOT NULL,
        "logs" TEXT,
        "rolled_back_at" TIMESTAMPTZ,
        "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
        "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
      const rows = await session.query<AppliedRow>(
        'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"',
      );
      const done = new Map(rows.filter((r) => r.finished_at && !r.rolled_back_at).map((r) => [r.migration_name, r]));
      const failed = rows.find((r) => !r.finished_at && !r.rolled_back_at);
      if (failed) {
        throw new CreditkeeperError('MIGRATION_FAILED', `Migration ${failed.migration_name} failed earlier; resolve it first`);
      }
      const applied: string[] = [];
      for (const migration of local) {
        const previous = done.get(migration.name);
        if (previous) {
          if (previous.checksum !== migration.checksum) {
            throw new CreditkeeperError(
              'MIGRATION_CHECKSUM_MISMATCH',
              `Migration ${migration.name} was changed after it was applied`,
              { migration: migration.name },
            );
          }
          continue;
        }
        await applyOne(session, migration);
        applied.push(migration.name);
      }
      return { applied };
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [migrationLockKey]);
    }
  });
}

async function applyOne(session: SqlSession, migration: LocalMigration): Promise<void> {
  // DDL is transactional in PostgreSQL: a migration lands whole or not at all.
  await session.exec('BEGIN');
  try {
    await session.exec(migration.sql);
    await session.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), 1)`,
      [randomUUID(), migration.checksum, migration.name],
    );
    await session.exec('COMMIT');
  } catch (error) {
    await session.exec('ROLLBACK');
    throw new CreditkeeperError('MIGRATION_FAILED', `Migration ${migration.name} failed: ${(error as Error).message}`, {
      migration: migration.name,
    });
  }
}

/** Names of local migrations not yet applied (for /readyz and `creditkeeper migrate --status`). */
export async function pendingMigrations(runner: SqlRunner, dir = migrationsDir): Promise<string[]> {
  const [row] = await runner.query<{ exists: boolean }>(
    "SELECT to_regclass('_prisma_migrations') IS NOT NULL AS exists",
  );
  const applied = row?.exists
    ? new Set(
        (
          await runner.query<{ migration_name: string }>(
            'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
          )
        ).map((r) => r.migration_name),
      )
    : new Set<string>();
  return readMigrations(dir)
    .map((m) => m.name)
    .filter((name) => !applied.has(name));
}
