import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../admin/app.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import type { CoreContext } from '../../core/context.js';
import { type Database, openDatabase } from '../../core/db/database.js';
import { purchase } from '../../core/ledger/purchase.js';
import { verifyLedger } from '../../core/ledger/verify.js';
import { seedPlans } from '../../core/plans/planCatalog.js';
import { seedPriceList } from '../../core/pricing/priceList.js';

/**
 * The embedded database's directory on a small tmpfs of its own, filled up by a file beside it
 * while the API takes spends: once PGlite cannot extend a table, spends answer 503 STORAGE_FULL
 * (never a 500), reads still answer; the file removed, spends go through again in the same
 * process; reopened, the ledger verifies and holds every acknowledged spend exactly once.
 */
const accountCount = 4;
const clients = 4;
/** The fresh embedded database takes ~40 MB; this leaves room for the accounts and a few spends. */
const tmpfsSize = '64m';

describe('the embedded database out of storage', () => {
  const root = mkdtempSync(join(tmpdir(), 'ck-storage-full-'));
  const mountPoint = join(root, 'mnt');
  const filler = join(mountPoint, 'filler');
  let mounted = false;
  let database: Database | undefined;
  let server: Server | undefined;

  afterAll(async () => {
    server?.close();
    await database?.close().catch(() => {});
    if (mounted) execFileSync('umount', [mountPoint]);
    rmSync(root, { recursive: true, force: true });
  });

  it('answers 503 STORAGE_FULL while the disk is full, loses nothing acknowledged and resumes when space returns', { timeout: 240_000 }, async () => {
    mkdirSync(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${tmpfsSize}`, 'tmpfs', mountPoint]);
    mounted = true;
    const dataDir = join(mountPoint, 'data');
    database = await openDatabase({ kind: 'embedded', dataDir });
    const ctx: CoreContext = { db: database, priceList: seedPriceList, plans: seedPlans };
    const token = (await createApiToken(ctx, { name: 'storage', scopes: ['SERVICE', 'READ'], actor: { kind: 'STAFF', id: 't' } })).secret;
    const accounts: string[] = [];
    for (let i = 0; i < accountCount; i++) {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `storage-${i}` } });
      await purchase(ctx, { accountId, idempotencyKey: 'opening', actor: { kind: 'SYSTEM' }, amount: 1_000_000n });
      accounts.push(accountId);
    }
    server = createApp(ctx, pino({ level: 'silent' })).listen(0);
    await new Promise((resolve) => server!.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const acknowledged: string[] = [];
    /** `clients` loops of spends until `enough(answers)`; each answer as "status code retry-after". */
    const spendUntil = async (enough: (answers: string[]) => boolean, limit: number): Promise<string[]> => {
      const answers: string[] = [];
      await Promise.all(
        Array.from({ length: clients }, async (_, client) => {
          for (let n = 0; !enough(answers) && answers.length < limit; n++) {
            const key = `spend-${randomUUID()}`;
            const reply = await fetch(`${base}/v1/accounts/${accounts[(client + n) % accountCount]}/usage`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'idempotency-key': key, 'content-type': 'application/json' },
              body: JSON.stringify({ charge: { action: 'image', quantity: 1 } }),
            });
            const body = (await reply.json()) as { error?: { code: string } };
            if (reply.status === 201) acknowledged.push(key);
            answers.push(reply.status === 201 ? '201' : `${reply.status} ${body.error?.code} retry-after ${reply.headers.get('retry-after')}`);
          }
        }),
      );
      return answers;
    };
    const full = '503 STORAGE_FULL retry-after 30';
    const lastAreFull = (answers: string[]) => answers.length >= 20 && answers.slice(-20).every((a) => a === full);

    expect(new Set(await spendUntil((answers) => answers.length >= 40, 40))).toEqual(new Set(['201']));

    // Fill the file system to the last block: big writes, then small ones.
    const fd = openSync(filler, 'w');
    try {
      for (const size of [1 << 20, 4096]) {
        try {
          for (const block = Buffer.alloc(size); ; ) writeSync(fd, block);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        }
      }
    } finally {
      closeSync(fd);
    }
    // Spends that still fit in pages already allocated go through; then the tables cannot grow.
    const whileFull = await spendUntil(lastAreFull, 2_000);
    expect(whileFull.filter((a) => a !== '201' && a !== full)).toEqual([]);
    expect(lastAreFull(whileFull)).toBe(true);
    const balance = await fetch(`${base}/v1/accounts/${accounts[0]}/balance`, { headers: { authorization: `Bearer ${token}` } });
    expect(balance.status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    rmSync(filler);
    expect(new Set(await spendUntil((answers) => answers.length >= 40, 40))).toEqual(new Set(['201']));

    server.close();
    server = undefined;
    await database.close();
    database = await openDatabase({ kind: 'embedded', dataDir });
    const report = await verifyLedger(database);
    expect(report.checks.filter((c) => c.violations.length > 0)).toEqual([]);
    const rows = await database.sql.query<{ idempotency_key: string; entries: number }>(
      `SELECT idempotency_key, count(*)::int AS entries FROM entries WHERE idempotency_key = ANY($1::text[]) GROUP BY idempotency_key`,
      [acknowledged],
    );
    const found = new Map(rows.map((r) => [r.idempotency_key, r.entries]));
    expect(acknowledged.filter((key) => found.get(key) !== 1)).toEqual([]);
    // Nothing but the acknowledged spends was written: a refused spend left no entry.
    const [usage] = await database.sql.query<{ entries: number }>(`SELECT count(*)::int AS entries FROM entries WHERE type = 'USAGE'`);
    expect(usage!.entries).toBe(acknowledged.length);
  });
});
