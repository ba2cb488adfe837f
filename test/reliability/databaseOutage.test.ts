import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../admin/app.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import type { CoreContext } from '../../core/context.js';
import { type Database, openDatabase } from '../../core/db/database.js';
import { purchase } from '../../core/ledger/purchase.js';
import { verifyLedger } from '../../core/ledger/verify.js';
import { seedPlans } from '../../core/plans/planCatalog.js';
import { seedPriceList } from '../../core/pricing/priceList.js';
import { type PrivateCluster, startPrivateCluster } from '../support/privateCluster.js';

/**
 * PostgreSQL goes away under the API while clients spend with a valid token: first it refuses
 * connections to the ledger's database (ALLOW_CONNECTIONS false, its backends terminated), then
 * the whole server is stopped and started again, then frozen (SIGSTOP) and thawed. Every answer given while it is away must be
 * 503 DATABASE_UNAVAILABLE with a Retry-After, never a 500, a 429 or a 401; /healthz stays 200
 * and /readyz says 503 with the reason; after it comes back the same process spends again, the
 * ledger verifies and every acknowledged spend is in it exactly once.
 */
const accountCount = 6;
const clients = 8;
const outageMs = 6_000;

interface Answer {
  key: string;
  accountId: string;
  status: number;
  code: string | undefined;
  retryAfter: string | null;
  /** Sent after the fault was in place and answered before it was lifted. */
  duringOutage: boolean;
}

describe('the database away under a running API (PostgreSQL)', () => {
  let cluster: PrivateCluster | undefined;
  let database: Database | undefined;
  let server: Server | undefined;
  let baseUrl = '';
  let token = '';
  const accounts: string[] = [];

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    database = await openDatabase({ kind: 'postgres', url: await cluster.createDatabase('ledger'), poolSize: 4 });
    const ctx: CoreContext = { db: database, priceList: seedPriceList, plans: seedPlans };
    token = (await createApiToken(ctx, { name: 'outage', scopes: ['SERVICE', 'READ'], actor: { kind: 'STAFF', id: 't' } })).secret;
    for (let i = 0; i < accountCount; i++) {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `outage-${i}` } });
      await purchase(ctx, { accountId, idempotencyKey: 'opening', actor: { kind: 'SYSTEM' }, amount: 1_000_000n });
      accounts.push(accountId);
    }
    server = createApp(ctx, pino({ level: 'silent' })).listen(0);
    await new Promise((resolve) => server!.once('listening', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server?.close();
    await database?.close().catch(() => {});
    await cluster?.remove();
  });

  const probe = async (path: string) => {
    const reply = await fetch(`${baseUrl}${path}`);
    return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
  };

  type Phase = 'before' | 'outage' | 'repaired' | 'finished';

  /** Spends from `clients` loops, each with a key of its own, until the phase is 'finished'. */
  const spendThrough = async (run: { phase: Phase; acknowledged: number; acknowledgedAfterRepair: number; refusedInOutage: number }): Promise<Answer[]> => {
    const answers: Answer[] = [];
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        for (let n = 0; run.phase !== 'finished'; n++) {
          const accountId = accounts[(client + n) % accountCount]!;
          const key = `spend-${randomUUID()}`;
          const sentIn = run.phase;
          const reply = await fetch(`${baseUrl}/v1/accounts/${accountId}/usage`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'idempotency-key': key, 'content-type': 'application/json' },
            body: JSON.stringify({ charge: { action: 'image', quantity: 1 } }),
          });
          const body = (await reply.json()) as { error?: { code: string } };
          answers.push({ key, accountId, status: reply.status, code: body.error?.code, retryAfter: reply.headers.get('retry-after'), duringOutage: sentIn === 'outage' && run.phase === 'outage' });
          if (reply.status === 201) run.acknowledged++;
          if (reply.status === 201 && sentIn === 'repaired') run.acknowledgedAfterRepair++;
          if (reply.status !== 201 && sentIn === 'outage') run.refusedInOutage++;
          // While the database is away answers come at once; do not spin the two shared cores on them.
          if (reply.status !== 201) await sleep(20);
        }
      }),
    );
    return answers;
  };

  /** Spends before, during and after `fault` … `repair`; every answer, and /healthz and /readyz as polled in the outage. */
  /** The outage lasts `outageMs`, and (at most a minute more) until `refusals` spends sent in it were refused. */
  const throughOutage = async (fault: () => Promise<void>, repair: () => Promise<void>, refusals = 0) => {
    const run = { phase: 'before' as Phase, acknowledged: 0, acknowledgedAfterRepair: 0, refusedInOutage: 0 };
    const answers = spendThrough(run);
    // The fault cuts a stream of spends in flight.
    await until(() => run.acknowledged >= 50, 10_000);
    await fault();
    run.phase = 'outage';
    const probes: { healthz: number; readyz: { status: number; body: Record<string, unknown> } }[] = [];
    const started = Date.now();
    const over = () => Date.now() - started > outageMs && (run.refusedInOutage >= refusals || Date.now() - started > outageMs + 60_000);
    for (; !over(); await sleep(500)) {
      probes.push({ healthz: (await probe('/healthz')).status, readyz: await probe('/readyz') });
    }
    run.phase = 'repaired';
    await repair();
    // Recovery without a restart: spends sent after the repair are acknowledged again.
    await until(() => run.acknowledgedAfterRepair >= clients, 30_000);
    run.phase = 'finished';
    return { answers: await answers, probes, acknowledgedAfterRepair: run.acknowledgedAfterRepair };
  };

  const expectOutageAnswered = (result: Awaited<ReturnType<typeof throughOutage>>, reason: string) => {
    const { answers, probes } = result;
    const during = answers.filter((a) => a.duringOutage);
    // Every answer of the whole run is a spend or a 503: never a 500, a 429 or a 401.
    expect([...new Set(answers.map((a) => `${a.status} ${a.code ?? ''}`.trim()))].sort()).toEqual(['201', '503 DATABASE_UNAVAILABLE']);
    expect(during.length).toBeGreaterThan(clients);
    expect(during.filter((a) => a.status !== 503 || a.code !== 'DATABASE_UNAVAILABLE')).toEqual([]);
    expect(during.filter((a) => !(Number(a.retryAfter) >= 1 && Number(a.retryAfter) <= 5))).toEqual([]);
    expect(probes.length).toBeGreaterThan(1);
    expect(probes.map((p) => p.healthz)).toEqual(probes.map(() => 200));
    expect(probes.map((p) => [p.readyz.status, p.readyz.body.status])).toEqual(probes.map(() => [503, 'database unavailable']));
    // The first probe may still meet a connection the server was closing; by the last one it is the fault's own reason.
    expect(probes.at(-1)!.readyz.body.reason).toBe(reason);
    expect(result.acknowledgedAfterRepair).toBeGreaterThanOrEqual(clients);
  };

  const expectLedgerWhole = async (acknowledged: Answer[]) => {
    const report = await verifyLedger(database!);
    expect(report.checks.filter((c) => c.violations.length > 0)).toEqual([]);
    const keys = acknowledged.map((a) => a.key);
    const rows = await database!.sql.query<{ idempotency_key: string; entries: number }>(
      `SELECT idempotency_key, count(*)::int AS entries FROM entries WHERE idempotency_key = ANY($1::text[]) GROUP BY idempotency_key`,
      [keys],
    );
    const found = new Map(rows.map((r) => [r.idempotency_key, r.entries]));
    expect(keys.filter((key) => found.get(key) !== 1)).toEqual([]);
  };

  it('refusing connections (ALLOW_CONNECTIONS false, backends terminated): 503 DATABASE_UNAVAILABLE throughout, then spends again', async () => {
    const admin = new pg.Client({ connectionString: cluster!.url() });
    await admin.connect();
    try {
      const result = await throughOutage(
        async () => {
          await admin.query('ALTER DATABASE ledger ALLOW_CONNECTIONS false');
          await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'ledger' AND pid <> pg_backend_pid()");
        },
        async () => {
          await admin.query('ALTER DATABASE ledger ALLOW_CONNECTIONS true');
        },
      );
      expectOutageAnswered(result, 'not accepting connections');
      await expectLedgerWhole(result.answers.filter((a) => a.status === 201));
    } finally {
      await admin.query('ALTER DATABASE ledger ALLOW_CONNECTIONS true').catch(() => {});
      await admin.end();
    }
    expect((await probe('/healthz')).status).toBe(200);
    expect((await probe('/readyz')).status).toBe(200);
  });

  it('the server stopped and started again: 503 DATABASE_UNAVAILABLE throughout, then spends again', async () => {
    const result = await throughOutage(
      () => cluster!.stop(),
      () => cluster!.start(),
    );
    expectOutageAnswered(result, 'connection refused');
    await expectLedgerWhole(result.answers.filter((a) => a.status === 201));
    expect((await probe('/healthz')).status).toBe(200);
    expect((await probe('/readyz')).status).toBe(200);
  });

  it('the server frozen (SIGSTOP), neither answering nor refusing: requests are answered 503 DATABASE_UNAVAILABLE when the pool gives up waiting, never left hanging; after SIGCONT spends again', { timeout: 120_000 }, async () => {
    // The pool's 4 connections hold spends that wait for the server; the other 4 clients are
    // refused each time the pool has waited 5 s for a connection: frozen until 8 were refused.
    const result = await throughOutage(
      async () => cluster!.pause(),
      async () => cluster!.resume(),
      clients,
    );
    const during = result.answers.filter((a) => a.duringOutage);
    expect([...new Set(result.answers.map((a) => `${a.status} ${a.code ?? ''}`.trim()))].sort()).toEqual(['201', '503 DATABASE_UNAVAILABLE']);
    // Spends in flight when it froze wait for it (and are acknowledged after SIGCONT); the rest are refused.
    expect(during.length).toBeGreaterThanOrEqual(clients);
    expect(during.filter((a) => a.status !== 503 || !(Number(a.retryAfter) >= 1 && Number(a.retryAfter) <= 5))).toEqual([]);
    expect(result.probes.map((p) => p.healthz)).toEqual(result.probes.map(() => 200));
    expect(result.probes.map((p) => [p.readyz.status, p.readyz.body.status])).toEqual(result.probes.map(() => [503, 'database unavailable']));
    expect(result.acknowledgedAfterRepair).toBeGreaterThanOrEqual(clients);
    await expectLedgerWhole(result.answers.filter((a) => a.status === 201));
    expect((await probe('/readyz')).status).toBe(200);
  });
});

describe('a database that cannot answer is not a failed sign-in (PGlite)', () => {
  it('a valid token is answered 503 DATABASE_UNAVAILABLE however often it is sent while the database is closed, on the API and the admin page, never 429', async () => {
    // PGlite keeps the sign-in counters in memory, so they work while the database does not: a
    // lookup the database failed, if counted as a failed sign-in, would be refused with 429 after 20.
    const database = await openDatabase({ kind: 'memory' });
    const ctx: CoreContext = { db: database, priceList: seedPriceList, plans: seedPlans };
    const server = createApp(ctx, pino({ level: 'silent' })).listen(0);
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const secret = (await createApiToken(ctx, { name: 'closed', scopes: ['READ'], actor: { kind: 'STAFF', id: 't' } })).secret;
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'closed-db' } });
      await database.close();
      const answers: string[] = [];
      for (let i = 0; i < 30; i++) {
        const reply = await fetch(`${base}/v1/accounts/${accountId}/balance`, { headers: { authorization: `Bearer ${secret}` } });
        const body = (await reply.json()) as { error?: { code: string; details?: { reason?: string } } };
        answers.push(`${reply.status} ${body.error?.code} ${body.error?.details?.reason} retry-after ${reply.headers.get('retry-after')}`);
      }
      expect(answers).toEqual(answers.map(() => '503 DATABASE_UNAVAILABLE database closed retry-after 2'));
      // The admin page's sign-in (10 attempts per address): a sign-in the database failed is given back.
      const signIns: string[] = [];
      for (let i = 0; i < 15; i++) {
        const reply = await fetch(`${base}/admin/login`, { method: 'POST', body: new URLSearchParams({ token: secret }), redirect: 'manual' });
        signIns.push(`${reply.status} retry-after ${reply.headers.get('retry-after')}`);
      }
      expect(signIns).toEqual(signIns.map(() => '503 retry-after 2'));
    } finally {
      server.close();
    }
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `condition` holds, at most `ms` (then goes on: the assertions after it say what was missing). */
async function until(condition: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end && !condition(); ) await sleep(50);
}
