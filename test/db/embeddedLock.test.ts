import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../core/db/database.js';
import { isCreditkeeperError } from '../../core/errors.js';

describe('one owner for the embedded database', () => {
  it('a second opener of the same data directory is refused with a message naming the owner', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ck-data-'));
    const owner = await openDatabase({ kind: 'embedded', dataDir });
    try {
      const error = await openDatabase({ kind: 'embedded', dataDir }).catch((e: unknown) => e);
      expect(isCreditkeeperError(error, 'DATABASE_LOCKED')).toBe(true);
      expect((error as Error).message).toContain(`process ${process.pid}`);

      // Another process (the CLI) stops with the same clear message and a non-zero exit.
      const cli = spawnSync(process.execPath, ['--import', 'tsx', 'cli/creditkeeper.ts', 'verify'], {
        env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '' },
        encoding: 'utf8',
      });
      expect(cli.status).toBe(2);
      expect(cli.stderr).toContain('DATABASE_LOCKED');
      expect(cli.stderr).toContain(`in use by process ${process.pid}`);
    } finally {
      await owner.close();
    }
    // Closed: the next opener gets it, and what the first wrote is there.
    const next = await openDatabase({ kind: 'embedded', dataDir });
    await next.close();
  });

  it('a lock left by a process that died is taken over', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ck-data-'));
    writeFileSync(join(dataDir, 'creditkeeper.lock'), JSON.stringify({ pid: 2_147_483_000, since: '2026-01-01T00:00:00Z' }));
    const db = await openDatabase({ kind: 'embedded', dataDir });
    await db.close();
  });

  it('writes survive closing and reopening', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ck-data-'));
    const first = await openDatabase({ kind: 'embedded', dataDir });
    await first.prisma.user.create({ data: { externalId: 'survivor' } });
    await first.close();
    const second = await openDatabase({ kind: 'embedded', dataDir });
    expect(await second.prisma.user.count({ where: { externalId: 'survivor' } })).toBe(1);
    await second.close();
  });
});
