import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate, migrationsDir, pendingMigrations, readMigrations } from '../../core/db/migrate.js';
import { isCreditkeeperError } from '../../core/errors.js';
import { engines, useFreshDatabase } from '../support/databases.js';
import { tempDir } from '../support/tempDir.js';

describe.each(engines)('the migration runner on %s', (engine) => {
  const db = useFreshDatabase(engine);

  it("records each migration in Prisma's _prisma_migrations with its sha256 checksum", async () => {
    const rows = await db.sql.query<{ migration_name: string; checksum: string; applied_steps_count: number; finished_at: Date | null }>(
      'SELECT migration_name, checksum, applied_steps_count, finished_at FROM "_prisma_migrations" ORDER BY migration_name',
    );
    const local = readMigrations();
    expect(rows.map((r) => r.migration_name)).toEqual(local.map((m) => m.name));
    for (const [i, m] of local.entries()) {
      const sql = readFileSync(join(migrationsDir, m.name, 'migration.sql'));
      expect(rows[i]!.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
      expect(rows[i]!.finished_at).not.toBeNull();
    }
    expect(await pendingMigrations(db.sql)).toEqual([]);
  });

  it('applies nothing the second time, even when several processes start at once', async () => {
    const results = await Promise.all([migrate(db.sql), migrate(db.sql), migrate(db.sql)]);
    expect(results.map((r) => r.applied)).toEqual([[], [], []]);
  });

  it('refuses a migration edited after it was applied', async () => {
    const dir = tempDir('ck-migrations-');
    cpSync(migrationsDir, dir, { recursive: true });
    const [first] = readMigrations(dir);
    writeFileSync(join(dir, first!.name, 'migration.sql'), `${first!.sql}\n-- edited\n`);
    const error = await migrate(db.sql, dir).catch((e: unknown) => e);
    expect(isCreditkeeperError(error, 'MIGRATION_CHECKSUM_MISMATCH')).toBe(true);
  });

  it('applies a new migration whole, or not at all when it fails', async () => {
    const dir = tempDir('ck-migrations-');
    cpSync(migrationsDir, dir, { recursive: true });
    cpSync(join(migrationsDir, readMigrations()[0]!.name), join(dir, '29990101000000_broken'), { recursive: true });
    writeFileSync(join(dir, '29990101000000_broken', 'migration.sql'), 'CREATE TABLE half_done (id int);\nSELECT no_such_function();\n');
    const error = await migrate(db.sql, dir).catch((e: unknown) => e);
    expect(isCreditkeeperError(error, 'MIGRATION_FAILED')).toBe(true);
    const [row] = await db.sql.query<{ exists: boolean }>("SELECT to_regclass('half_done') IS NOT NULL AS exists");
    expect(row!.exists).toBe(false);
    expect(await pendingMigrations(db.sql, dir)).toEqual(['29990101000000_broken']);
  });
});
