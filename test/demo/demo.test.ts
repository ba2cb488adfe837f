import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createCoreContext } from '../../core/context.js';
import { loadConfig } from '../../core/config.js';
import { openDatabase } from '../../core/db/database.js';
import { getActivity } from '../../core/reports/activity.js';
import { explainBalance } from '../../core/reports/why.js';

const run = promisify(execFile);

describe('npm run demo', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ck-demo-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('writes a month for the seed scenarios through the real use-cases, every invariant holding, and refuses a database in use', async () => {
    const env = { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '' };
    const { stdout } = await run('npx', ['tsx', 'demo/seedMonth.ts'], { env, timeout: 120_000 });
    expect(stdout).toMatch(/A month of history in .*: 7 accounts, \d+ entries, every invariant holds/);
    expect(stdout).toMatch(/API token \(every scope\): +ck_/);

    const db = await openDatabase({ kind: 'embedded', dataDir });
    try {
      const ctx = createCoreContext(db, loadConfig({ DATA_DIR: dataDir }));
      const maria = (await db.prisma.user.findUniqueOrThrow({ where: { externalId: 'maria' }, include: { account: true } })).account!.id;
      const added = await getActivity(ctx, { accountId: maria, filter: 'ADDED', pageSize: 100 });
      const labels = new Set(added.rows.map((r) => r.label));
      for (const label of ['Weekly grant', 'Discord reward', 'Ad reward', 'Top-up purchase']) expect(labels).toContain(label);
      const oldest = added.rows.at(-1)!.startedAt.getTime();
      expect(Date.now() - oldest).toBeGreaterThan(28 * 86_400_000); // a month behind it, not one afternoon

      const acme = (await db.prisma.client.findFirstOrThrow({ where: { externalId: 'acme' }, include: { account: true } })).account!.id;
      const why = await explainBalance(ctx, { accountId: acme });
      expect(why.findings.map((f) => f.kind)).toEqual(expect.arrayContaining(['AUTO_RELOAD']));
    } finally {
      await db.close();
    }
    const again = await run('npx', ['tsx', 'demo/seedMonth.ts'], { env, timeout: 120_000 }).catch((error: { code: number; stderr: string }) => error);
    expect(again).toMatchObject({ code: 2, stderr: expect.stringContaining('already has accounts') });
  });
});
