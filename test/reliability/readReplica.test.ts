import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../admin/app.js';
import { observeWrites } from '../../cli/wireProcess.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { loadConfig } from '../../core/config.js';
import type { CoreContext } from '../../core/context.js';
import { type Database, openDatabase } from '../../core/db/database.js';
import { ReadReplica, readFromReplica } from '../../core/db/readReplica.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { seedPlans } from '../../core/plans/planCatalog.js';
import { seedPriceList } from '../../core/pricing/priceList.js';
import { getActivity } from '../../core/reports/activity.js';
import { consoleChat } from '../bot/consoleChat.js';
import { type PrivateCluster, startPrivateCluster } from '../support/privateCluster.js';

/**
 * Reports from a streaming replica: a primary and a hot standby of the test's own (initdb, then
 * pg_basebackup -R), the API over both with DATABASE_READ_URL's replica. Which server ran a
 * report is read from each server's pg_stat_statements. Replay paused, a user who just spent
 * still sees the spend (the primary answers, or the standby once it has replayed it); the
 * standby stopped, every report still answers 200 from the primary, and once it is back, from it.
 */
const preload = { shared_preload_libraries: 'pg_stat_statements' };
/** Calls of statements whose text matches, other than the test's own questions to pg_stat_statements. */
const callsOf = (matching: string) => `SELECT coalesce(sum(calls), 0)::int AS calls FROM pg_stat_statements
  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'ledger') AND ${matching} AND query NOT ILIKE '%pg_stat_statements%'`;
/** Report statements (they read `entries`, or daily usage and monthly summary `usage_rollups`), not writes or maintenance. */
const reportCalls = callsOf(`query ~* '\\m(from|join)\\s+(entries|usage_rollups)\\M' AND query !~* '\\m(insert|update|delete|analyze|vacuum)\\M'`);
/** Staff search's statement (core/accounts/searchAccounts.ts: it reads `accounts` and its owners). */
const searchCalls = callsOf(`query ILIKE '%coalesce(u.display_name, o.name, c.name) AS name%'`);

describe('reports read from a hot standby (PostgreSQL)', () => {
  let primary: PrivateCluster | undefined;
  let standby: PrivateCluster | undefined;
  let database: Database | undefined;
  let replica: ReadReplica | undefined;
  let server: Server | undefined;
  const clients: pg.Client[] = [];
  let ctx: CoreContext;
  /** The process's context: its writes are told to the replica. */
  let observedCtx: CoreContext;
  let chat: ReturnType<typeof consoleChat>;
  let baseUrl = '';
  let service = '';
  let admin = '';
  let accountId = '';
  /** The replica's log: one line per change of state. */
  const stateLog: string[] = [];

  const connect = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {}); // the standby's shutdown ends it: the next use opens another
    await client.connect();
    clients.push(client);
    return client;
  };
  let onPrimary: pg.Client;
  let onStandby: () => Promise<pg.Client>;

  beforeAll(async () => {
    primary = await startPrivateCluster({ settings: { wal_level: 'replica', ...preload } });
    database = await openDatabase({ kind: 'postgres', url: await primary.createDatabase('ledger'), poolSize: 4 });
    await database.sql.exec('CREATE EXTENSION pg_stat_statements');
    // A second reader of the standby under a role of its own, so that its statements are told apart.
    await database.sql.exec('CREATE ROLE patient_reader LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO patient_reader');
    standby = await startPrivateCluster({ standbyOf: primary, settings: preload });
    const logger = pino({ level: 'info' }, { write: (line: string) => void stateLog.push(JSON.parse(line).replica) });
    // Up to a second for replay: this machine is shared, and a report that waited longer goes to the primary.
    // The primary's position is reused for a minute: what makes a report wait for a spend is that this process made it.
    replica = new ReadReplica(standby.url('ledger'), database.sql, { poolSize: 2, maxWaitMs: 1_000, maxStalenessMs: 60_000, logger });
    ctx = { db: database, priceList: seedPriceList, plans: seedPlans };
    const actor = { kind: 'STAFF', id: 'replica-test' } as const;
    service = (await createApiToken(ctx, { name: 'host', scopes: ['SERVICE', 'READ'], actor })).secret;
    admin = (await createApiToken(ctx, { name: 'staff', scopes: ['ADMIN'], actor })).secret;
    const observed = observeWrites(ctx, undefined, replica);
    observedCtx = observed.ctx;
    chat = consoleChat(observed.ctx);
    server = createApp(observed.ctx, pino({ level: 'silent' }), { metrics: observed.metrics }).listen(0);
    await new Promise((resolve) => server!.once('listening', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    onPrimary = await connect(primary.url('ledger'));
    let standbyClient: pg.Client | undefined;
    // A connection of the test's own to the standby, opened again after the standby restarts.
    onStandby = async () => {
      if (!standbyClient || (await standbyClient.query('SELECT 1').then(() => false, () => true))) standbyClient = await connect(standby!.url('ledger'));
      return standbyClient;
    };
    // The account and its top-up, written through the API: the process knows it wrote them.
    const opened = await call('POST', '/v1/accounts', service, { owner: { kind: 'USER', externalId: 'replica-reader', displayName: 'Rea Plica' } }, 'open');
    accountId = opened.body.accountId;
    expect((await call('POST', `/v1/accounts/${accountId}/purchases`, service, { amount: 100 }, 'top-up')).status).toBe(201);
  }, 180_000);

  afterAll(async () => {
    server?.close();
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await replica?.close();
    await database?.close().catch(() => {});
    // Both clusters go whatever happened above (and the exit hook kills what is left if this does not run).
    await Promise.all([standby?.remove(), primary?.remove()]);
  });

  async function call(method: string, path: string, token: string, body?: unknown, key?: string) {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (key) headers['idempotency-key'] = key;
    const reply = await fetch(`${baseUrl}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const text = await reply.text();
    return { status: reply.status, text, body: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : undefined };
  }

  const reportsRanOn = async (client: pg.Client) => (await client.query<{ calls: number }>(reportCalls)).rows[0]!.calls;
  const searchesRanOn = async (client: pg.Client) => (await client.query<{ calls: number }>(searchCalls)).rows[0]!.calls;
  const resetStatements = async () => {
    await onPrimary.query('SELECT pg_stat_statements_reset()');
    await (await onStandby()).query('SELECT pg_stat_statements_reset()');
  };
  const readyz = async () => (await (await fetch(`${baseUrl}/readyz`)).json()) as { status: string; replica: { state: string; reason?: string; lagBytes?: number } };
  const untilReplica = async (state: string) => {
    while ((await readyz()).replica.state !== state) await new Promise((resolve) => setTimeout(resolve, 50));
  };

  /** Every report route, each of which must answer 200; returns /why and the first activity page. */
  async function readEveryReport() {
    const account = `/v1/accounts/${accountId}`;
    const why = await call('GET', `${account}/why`, service);
    const activity = await call('GET', `${account}/activity`, service);
    const replies = [
      why,
      activity,
      await call('GET', `${account}/activity/groups/${activity.body.rows[0].seq}`, service),
      await call('GET', `${account}/activity.csv`, service),
      await call('GET', `${account}/usage/daily`, service),
      await call('GET', `${account}/usage/monthly`, service),
      await call('GET', '/v1/admin/accounts?search=replica-reader', admin),
    ];
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 200]);
    expect(replies.at(-1)!.body).toMatchObject([{ accountId, externalId: 'replica-reader' }]);
    // The same reports in chat, as the account's owner reads them.
    const said = [await chat('replica-reader', '/why'), await chat('replica-reader', '/activity'), await chat('replica-reader', '/usage')];
    // And staff's /lookup of the owner.
    expect(await chat('replica-staff', '/lookup search:replica-reader', true)).toContain(`account ${accountId}`);
    return { why: why.body, activity: activity.body, csv: replies[3]!.text, said };
  }

  it('DATABASE_READ_URL needs DATABASE_URL', () => {
    expect(() => loadConfig({ DATABASE_READ_URL: 'postgresql://standby/ledger' })).toThrow(/DATABASE_READ_URL: needs DATABASE_URL/);
    expect(loadConfig({ DATABASE_URL: 'postgresql://primary/ledger', DATABASE_READ_URL: 'postgresql://standby/ledger' }).DATABASE_READ_URL).toBe('postgresql://standby/ledger');
  });

  it('serves every report from the standby, with what the primary has: a top-up of 100 and a spend of 6', async () => {
    expect(await call('POST', `/v1/accounts/${accountId}/usage`, service, { charge: { action: 'image', quantity: 2 } }, 'image-1')).toMatchObject({ status: 201 });
    await untilReplica('up');
    await resetStatements();
    const { why, activity, csv, said } = await readEveryReport();
    expect(why.end).toMatchObject({ balance: '94' });
    expect(said[0]).toContain('Now: 94 (0 + 94, it adds up)');
    expect(said[2]).toContain('total 6 credits');
    expect(activity.rows.map((r: { amount: string }) => r.amount)).toEqual(['-6', '100']);
    expect(csv.trim().split('\r\n')).toHaveLength(3); // the header, the top-up, the spend
    expect(await reportsRanOn(await onStandby())).toBeGreaterThan(0);
    expect(await reportsRanOn(onPrimary)).toBe(0);
    expect(await searchesRanOn(await onStandby())).toBeGreaterThan(0);
    expect(await searchesRanOn(onPrimary)).toBe(0);
    expect(await readyz()).toMatchObject({ status: 'ready', replica: { state: 'up', lagBytes: 0 } });
  });

  it('an account another process opened, not yet replayed: the standby says ACCOUNT_NOT_FOUND, the primary answers, the standby stays up', async () => {
    await untilReplica('up');
    const standbyClient = await onStandby();
    await standbyClient.query('SELECT pg_wal_replay_pause()');
    try {
      // Written with the plain context, as another process would: this one's replica is not told.
      const { accountId: elsewhere } = await openAccount(ctx, { owner: { kind: 'USER', externalId: 'opened-elsewhere' } });
      await purchase(ctx, { accountId: elsewhere, idempotencyKey: 'elsewhere-top-up', actor: { kind: 'SERVICE' }, amount: 40n });
      await resetStatements();
      const page = await readFromReplica(observedCtx, elsewhere, (reads) => getActivity(reads, { accountId: elsewhere }));
      expect(page.rows.map((r) => r.amount)).toEqual([40n]);
      expect(await reportsRanOn(onPrimary)).toBeGreaterThan(0);
      expect(await readyz()).toMatchObject({ status: 'ready', replica: { state: 'up' } });
    } finally {
      await standbyClient.query('SELECT pg_wal_replay_resume()');
    }
  });

  it('replay paused: a spend of 5 just made shows in /why and activity (from the primary), and a report that waits gets it from the standby once replayed', async () => {
    const standbyClient = await onStandby();
    await standbyClient.query('SELECT pg_wal_replay_pause()');
    expect(await call('POST', `/v1/accounts/${accountId}/usage`, service, { charge: { action: 'chat', quantity: 5 } }, 'chat-1')).toMatchObject({ status: 201 });
    await resetStatements();
    const { why, activity, said } = await readEveryReport();
    expect(why.end).toMatchObject({ balance: '89' });
    expect(said[0]).toContain('Now: 89');
    expect(said[1]).toMatch(/Chat\s+-5  → 89/);
    expect(activity.rows.map((r: { amount: string }) => r.amount)).toEqual(['-5', '-6', '100']);
    // The primary answered; the standby does not have the spend.
    expect(await reportsRanOn(onPrimary)).toBeGreaterThan(0);
    expect(await reportsRanOn(standbyClient)).toBe(0);
    const onTheStandby = await standbyClient.query(`SELECT count(*)::int AS n FROM entries WHERE idempotency_key = 'chat-1'`);
    expect(onTheStandby.rows[0].n).toBe(0);
    expect(await readyz()).toMatchObject({ status: 'ready', replica: { state: 'lagging' } });

    // A process that waits as long as it takes: its report is held until replay resumes, then read on the standby.
    const waiting = new ReadReplica(standby!.url('ledger').replace('root@', 'patient_reader@'), database!.sql, { poolSize: 1, maxWaitMs: 60_000 });
    try {
      const waitingCtx: CoreContext = { ...ctx, replica: waiting, observer: waiting.observer };
      await spend(waitingCtx, { accountId, idempotencyKey: 'reroll-1', actor: { kind: 'SERVICE' }, charge: { action: 'reroll', quantity: 1 } });
      await resetStatements();
      const page = readFromReplica(waitingCtx, accountId, (reads) => getActivity(reads, { accountId }));
      // It is asking the standby where replay stands, again and again, while replay is paused.
      const polls = callsOf(`userid = 'patient_reader'::regrole::oid AND query ILIKE '%pg_last_wal_replay_lsn%'`);
      while ((await standbyClient.query(polls)).rows[0].calls < 2) await new Promise((resolve) => setTimeout(resolve, 20));
      await standbyClient.query('SELECT pg_wal_replay_resume()');
      expect((await page).rows.map((r) => r.amount)).toEqual([-2n, -5n, -6n, 100n]);
      expect(await reportsRanOn(standbyClient)).toBeGreaterThan(0);
      expect(await reportsRanOn(onPrimary)).toBe(0);
    } finally {
      await waiting.close();
    }

    // Replay resumed, and another user spending all the while: reports alone bring the standby back.
    const busy = (await call('POST', '/v1/accounts', service, { owner: { kind: 'USER', externalId: 'busy-spender' } }, 'open-busy')).body.accountId;
    expect((await call('POST', `/v1/accounts/${busy}/purchases`, service, { amount: 1_000_000 }, 'busy-top-up')).status).toBe(201);
    let spending = true;
    const spender = (async () => {
      for (let i = 0; spending; i++) await call('POST', `/v1/accounts/${busy}/usage`, service, { charge: { action: 'chat', quantity: 1 } }, `busy-${i}`);
    })();
    while (stateLog.at(-1) !== 'up') expect((await call('GET', `/v1/accounts/${accountId}/why`, service)).body.end).toMatchObject({ balance: '87' });
    spending = false;
    await spender;
  });

  it('the standby stopped: every report still answers 200 from the primary; started again, reports go back to it', async () => {
    await standby!.stop();
    await resetStatements().catch(() => onPrimary.query('SELECT pg_stat_statements_reset()'));
    const { why, activity, said } = await readEveryReport();
    expect(why.end).toMatchObject({ balance: '87' });
    expect(said[0]).toContain('Now: 87');
    expect(activity.rows.map((r: { amount: string }) => r.amount)).toEqual(['-2', '-5', '-6', '100']);
    expect(await reportsRanOn(onPrimary)).toBeGreaterThan(0);
    const ready = await readyz();
    expect(ready).toMatchObject({ status: 'ready', replica: { state: 'down' } });
    expect(ready.replica.reason).toMatch(/connection refused/);

    await standby!.start();
    await untilReplica('up');
    await resetStatements();
    expect((await readEveryReport()).why.end).toMatchObject({ balance: '87' });
    expect(await reportsRanOn(await onStandby())).toBeGreaterThan(0);
    expect(await reportsRanOn(onPrimary)).toBe(0);
    expect(await searchesRanOn(await onStandby())).toBeGreaterThan(0);
    expect(await searchesRanOn(onPrimary)).toBe(0);
    // Logged once per change of state, not once per report.
    expect(stateLog).toContain('lagging');
    expect(stateLog).toContain('down');
    expect(stateLog.at(-1)).toBe('up');
    expect(stateLog.every((state, i) => i === 0 || state !== stateLog[i - 1])).toBe(true);
  });
});
