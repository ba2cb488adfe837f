import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
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
 * while the API takes spends. Two ways the disk fills, as the README tells them:
 *
 * - A table cannot grow: spends answer 503 STORAGE_FULL (never a 500), reads still answer; the
 *   file removed, spends go through again in the same process.
 * - The WAL cannot get its next segment: PostgreSQL in PGlite PANICs and that instance is dead.
 *   Every call answers 503 STORAGE_FULL, /readyz 503 "storage full", /healthz 200; the process
 *   reopens the directory by itself once the file is removed (crash recovery replays the WAL)
 *   and serves again.
 *
 * Either way the ledger verifies and holds every acknowledged spend exactly once.
 */
const accountCount = 4;
const clients = 4;
/** The fresh embedded database takes ~40 MB (16 MB of it the WAL's one segment); this leaves room for the accounts and a few spends. */
const tmpfsSize = '64m';
const walSegmentBytes = 16 * 1024 * 1024;

/** Mounting a tmpfs needs root (or CAP_SYS_ADMIN): where it is refused, the test cannot run here. */
function mountRefusal(): string | undefined {
  const probe = mkdtempSync(join(tmpdir(), 'ck-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe]);
    return undefined;
  } catch (error) {
    return `cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
const refusal = mountRefusal();
if (refusal) console.warn(`test/reliability/storageFull.test.ts skipped: ${refusal}`);

interface Ledger {
  dataDir: string;
  filler: string;
  database: Database;
  base: string;
  /** The log of the database (the crash and the reopening), one JSON object a line. */
  log: string[];
  /** `clients` loops of spends until `enough(answers)`; each answer as "status code retry-after". */
  spendUntil(enough: (answers: string[]) => boolean, limit: number): Promise<string[]>;
  /** One spend under `key`, as `spendUntil` sends them: also a client's retry of a spend that got no 201. */
  spend(key: string, accountId: string): Promise<string>;
  /** The keys of the spends that got a 201; every key sent, with its account. */
  acknowledged: Set<string>;
  sent: Map<string, string>;
  get(path: string): Promise<{ status: number; body: any }>;
}

describe.skipIf(refusal)('the embedded database out of storage', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** The ledger on a tmpfs of its own, with accounts and the API; unmounted and removed after the test, pass or fail. */
  async function ledgerOnTmpfs(): Promise<Ledger> {
    const root = mkdtempSync(join(tmpdir(), 'ck-storage-full-'));
    const mountPoint = join(root, 'mnt');
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${tmpfsSize}`, 'tmpfs', mountPoint]);
    // Lazily: a database a failed test left open must not keep the mount.
    cleanups.push(() => {
      execFileSync('umount', ['--lazy', mountPoint]);
    });
    const dataDir = join(mountPoint, 'data');
    const log: string[] = [];
    const database = await openDatabase({ kind: 'embedded', dataDir }, { logger: pino({ level: 'info' }, { write: (line: string) => log.push(line) }) });
    cleanups.push(() => ledger.database.close().catch(() => {}));
    const ctx: CoreContext = { db: database, priceList: seedPriceList, plans: seedPlans };
    const token = (await createApiToken(ctx, { name: 'storage', scopes: ['SERVICE', 'READ'], actor: { kind: 'STAFF', id: 't' } })).secret;
    const accounts: string[] = [];
    for (let i = 0; i < accountCount; i++) {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `storage-${i}` } });
      await purchase(ctx, { accountId, idempotencyKey: 'opening', actor: { kind: 'SYSTEM' }, amount: 1_000_000n });
      accounts.push(accountId);
    }
    const server: Server = createApp(ctx, pino({ level: 'silent' })).listen(0);
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const headers = { authorization: `Bearer ${token}` };
    const acknowledged = new Set<string>();
    const sent = new Map<string, string>();
    const spend = async (key: string, accountId: string): Promise<string> => {
      sent.set(key, accountId);
      const reply = await fetch(`${base}/v1/accounts/${accountId}/usage`, {
        method: 'POST',
        headers: { ...headers, 'idempotency-key': key, 'content-type': 'application/json' },
        body: JSON.stringify({ charge: { action: 'image', quantity: 1 } }),
      });
      const body = (await reply.json()) as { error?: { code: string } };
      if (reply.status === 201) acknowledged.add(key);
      return reply.status === 201 ? '201' : `${reply.status} ${body.error?.code} retry-after ${reply.headers.get('retry-after')}`;
    };
    const ledger: Ledger = {
      dataDir,
      filler: join(mountPoint, 'filler'),
      database,
      base,
      log,
      spend,
      acknowledged,
      sent,
      spendUntil: async (enough, limit) => {
        const answers: string[] = [];
        await Promise.all(
          Array.from({ length: clients }, async (_, client) => {
            for (let n = 0; !enough(answers) && answers.length < limit; n++) answers.push(await spend(`spend-${randomUUID()}`, accounts[(client + n) % accountCount]!));
          }),
        );
        return answers;
      },
      get: async (path) => {
        const reply = await fetch(`${base}${path}`, { headers });
        return { status: reply.status, body: await reply.json() };
      },
    };
    return ledger;
  }

  /** Fills the file system with one file until `leaveBytes` are left (0: to the last block). */
  function fill(ledger: Ledger, leaveBytes: number): void {
    const fd = openSync(ledger.filler, 'w');
    try {
      const free = () => Number(statfsSync(ledger.filler).bavail * statfsSync(ledger.filler).bsize);
      for (const size of [1 << 20, 4096]) {
        try {
          for (const block = Buffer.alloc(size); free() - size >= leaveBytes; ) writeSync(fd, block);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Reopened from its directory alone: the invariants hold, and every key sent is in the ledger once if acknowledged, never twice. */
  async function expectEveryAcknowledgedSpendOnce(ledger: Ledger, everyKeyAcknowledged: boolean): Promise<void> {
    await ledger.database.close();
    ledger.database = await openDatabase({ kind: 'embedded', dataDir: ledger.dataDir });
    const report = await verifyLedger(ledger.database);
    expect(report.checks.filter((c) => c.violations.length > 0)).toEqual([]);
    const rows = await ledger.database.sql.query<{ idempotency_key: string; entries: number }>(
      `SELECT idempotency_key, count(*)::int AS entries FROM entries WHERE type = 'USAGE' GROUP BY idempotency_key`,
    );
    const found = new Map(rows.map((r) => [r.idempotency_key, r.entries]));
    expect([...ledger.acknowledged].filter((key) => found.get(key) !== 1)).toEqual([]);
    expect(rows.filter((r) => r.entries !== 1 || !ledger.sent.has(r.idempotency_key))).toEqual([]);
    // A refused spend left no entry (a table that cannot grow); after a retry every key sent was acknowledged (the crash).
    expect(found.size).toBe(everyKeyAcknowledged ? ledger.sent.size : ledger.acknowledged.size);
  }

  const full = '503 STORAGE_FULL retry-after 30';
  const lastAreFull = (answers: string[]) => answers.length >= 20 && answers.slice(-20).every((a) => a === full);
  const forty = (answers: string[]) => answers.length >= 40;

  it('a table that cannot grow: 503 STORAGE_FULL while the disk is full, reads answer, resumes when space returns', { timeout: 240_000 }, async () => {
    const ledger = await ledgerOnTmpfs();
    expect(new Set(await ledger.spendUntil(forty, 40))).toEqual(new Set(['201']));

    fill(ledger, 0);
    // Spends that still fit in pages already allocated go through; then the tables cannot grow.
    const whileFull = await ledger.spendUntil(lastAreFull, 2_000);
    expect(whileFull.filter((a) => a !== '201' && a !== full)).toEqual([]);
    expect(lastAreFull(whileFull)).toBe(true);
    // Reads need no new pages: the balance still answers while the disk is full.
    expect(await ledger.get(`/v1/accounts/${[...ledger.sent.values()][0]}/balance`)).toMatchObject({ status: 200, body: { available: expect.any(String) } });
    expect((await ledger.get(`/readyz`)).status).toBe(200);
    expect((await ledger.get(`/healthz`)).status).toBe(200);

    rmSync(ledger.filler);
    expect(new Set(await ledger.spendUntil(forty, 40))).toEqual(new Set(['201']));
    await expectEveryAcknowledgedSpendOnce(ledger, false);
  });

  it('the WAL cannot grow: PostgreSQL PANICs, every call answers 503 STORAGE_FULL, and the same process reopens the database when space returns', { timeout: 300_000 }, async () => {
    const ledger = await ledgerOnTmpfs();
    expect(new Set(await ledger.spendUntil(forty, 40))).toEqual(new Set(['201']));

    // The WAL to within 64 kB of its segment's end (a logical message is WAL and nothing else:
    // seconds, not thousands of spends), and less room left than its next segment takes. The
    // tables can still grow: the next spends fail only when they write the WAL's next segment.
    const [{ lsn }] = (await ledger.database.sql.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`)) as [{ lsn: string }];
    const toSegmentEnd = walSegmentBytes - (Number.parseInt(lsn.split('/')[1]!, 16) % walSegmentBytes);
    if (toSegmentEnd > 128 * 1024) await ledger.database.sql.query(`SELECT pg_logical_emit_message(false, 'fill', repeat('x', $1::int))`, [toSegmentEnd - 64 * 1024]);
    fill(ledger, 2 << 20);

    const crashed = await ledger.spendUntil((answers) => answers.includes(full), 2_000);
    expect(crashed.filter((a) => a !== '201' && a !== full)).toEqual([]);
    expect(crashed).toContain(full);
    expect(ledger.log.some((line) => line.includes('the embedded database crashed') && line.includes('"reason":"storage full"'))).toBe(true);
    // The instance is dead, not a table full: reads fail too, readiness says why, liveness holds.
    expect(await ledger.get(`/readyz`)).toMatchObject({ status: 503, body: { status: 'database unavailable', reason: 'storage full' } });
    expect(await ledger.get(`/v1/accounts/${[...ledger.sent.values()][0]}/balance`)).toMatchObject({ status: 503, body: { error: { code: 'STORAGE_FULL' } } });
    expect((await ledger.get(`/healthz`)).status).toBe(200);
    // Reopening while the disk is still full fails (its recovery needs a WAL segment too), and is retried.
    for (let waited = 0; !ledger.log.some((line) => line.includes('cannot be reopened yet')) && waited < 60_000; waited += 250) await sleep(250);
    expect(ledger.log.filter((line) => line.includes('cannot be reopened yet'))).toHaveLength(1);
    expect(new Set(await ledger.spendUntil(forty, 40))).toEqual(new Set([full]));

    rmSync(ledger.filler);
    for (let waited = 0; (await ledger.get(`/readyz`)).status !== 200 && waited < 60_000; waited += 250) await sleep(250);
    expect(await ledger.get(`/readyz`)).toMatchObject({ status: 200, body: { status: 'ready' } });
    expect(ledger.log.some((line) => line.includes('the embedded database is open again'))).toBe(true);
    expect(new Set(await ledger.spendUntil(forty, 40))).toEqual(new Set(['201']));
    // The spend that met the PANIC may have committed: retried under its key it is a replay, the others are written now.
    for (const [key, accountId] of ledger.sent) if (!ledger.acknowledged.has(key)) expect(await ledger.spend(key, accountId)).toBe('201');
    await expectEveryAcknowledgedSpendOnce(ledger, true);
  });
});
