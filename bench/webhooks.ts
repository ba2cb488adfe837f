/**
 * Webhooks benchmark: what the transactional outbox costs a spend, and how fast the dispatcher
 * delivers, on PostgreSQL.
 *
 * What it measures, in one run on one new database `ck_bench_webhooks_<random>` (dropped at the end)
 *   - spends/s (core `spend`, image × 1, BENCH_WEBHOOK_CLIENTS async workers over BENCH_ACCOUNTS
 *     accounts, BENCH_SECONDS each) three ways, alternated twice so both meet the disk alike:
 *     (a) with the entries' webhook trigger disabled (the floor), (b) with the trigger but no
 *     endpoint enabled (what every install pays), (c) with one enabled endpoint that wants
 *     entry.created for every account (each spend then also writes an event and a delivery).
 *   - events delivered/s: the dispatcher (WEBHOOK_CONCURRENCY workers, default 16) draining the
 *     deliveries (c) queued, to a loopback receiver answering 204 at once, verifying nothing
 *     (signing is still done per attempt). Counted from the deliveries table.
 *   - The same three ways on in-memory PGlite over 200 accounts (nothing delivered there).
 *   - Afterwards every delivery must be DELIVERED and the ledger must verify.
 *
 * Knobs: BENCH_SECONDS (default 5), BENCH_ACCOUNTS (default 1000), BENCH_WEBHOOK_CLIENTS (default 32),
 * BENCH_DATABASE_URL. Results: bench/results/webhooks-<ISO timestamp>.json and webhooks-latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unrestricted } from '../core/access/accountReach.js';
import type { CoreContext } from '../core/context.js';
import { openDatabase } from '../core/db/database.js';
import { purchase } from '../core/ledger/purchase.js';
import { spend } from '../core/ledger/spend.js';
import { verifyLedger } from '../core/ledger/verify.js';
import { seedPlans } from '../core/plans/planCatalog.js';
import { seedPriceList } from '../core/pricing/priceList.js';
import { startWebhookDispatcher } from '../core/webhooks/dispatchWebhooks.js';
import { registerWebhookEndpoint } from '../core/webhooks/registerWebhookEndpoint.js';
import { webhookSettings } from '../core/webhooks/webhookSettings.js';
import { createServerDatabase, failureReason } from './support.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const accountCount = Number(process.env.BENCH_ACCOUNTS ?? 1_000);
const clients = Number(process.env.BENCH_WEBHOOK_CLIENTS ?? 32);

async function spendsPerSecond(ctx: CoreContext, accounts: string[]): Promise<number> {
  let done = 0;
  const until = performance.now() + seconds * 1_000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until) {
        const accountId = accounts[Math.floor(Math.random() * accounts.length)]!;
        await spend(ctx, { accountId, idempotencyKey: `bench-${Math.random().toString(36).slice(2)}-${done}`, actor: { kind: 'SERVICE' }, charge: { action: 'image', quantity: 1 } });
        done++;
      }
    }),
  );
  return Math.round(done / seconds);
}

type Runs = Record<'noTrigger' | 'noEndpoint' | 'oneEndpoint', number[]>;

/** Spends/s with the trigger disabled, with it and no endpoint enabled, and with the endpoint enabled; twice, alternated. */
async function threeWays(ctx: CoreContext, accounts: string[], endpointId: string): Promise<Runs> {
  const setEndpoint = (enabled: boolean) => ctx.db.sql.query(`UPDATE webhook_endpoints SET enabled = $2 WHERE id = $1::uuid`, [endpointId, enabled]);
  const setTrigger = (on: boolean) => ctx.db.sql.exec(`ALTER TABLE entries ${on ? 'ENABLE' : 'DISABLE'} TRIGGER entries_webhook_events`);
  await spendsPerSecond(ctx, accounts); // warm-up, not counted
  const runs: Runs = { noTrigger: [], noEndpoint: [], oneEndpoint: [] };
  for (let round = 0; round < 2; round++) {
    await setEndpoint(false);
    await setTrigger(false);
    runs.noTrigger.push(await spendsPerSecond(ctx, accounts));
    await setTrigger(true);
    runs.noEndpoint.push(await spendsPerSecond(ctx, accounts));
    await setEndpoint(true);
    runs.oneEndpoint.push(await spendsPerSecond(ctx, accounts));
  }
  return runs;
}

/** The same three ways on in-memory PGlite (one connection), over 200 accounts; nothing is delivered there. */
async function pgliteRuns(): Promise<Runs> {
  const db = await openDatabase({ kind: 'memory' });
  const ctx: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
  try {
    const accounts = (
      await db.sql.query<{ id: string }>(
        `WITH u AS (INSERT INTO users (external_id) SELECT 'bench-' || g FROM generate_series(1, 200) g RETURNING id)
         INSERT INTO accounts (owner_kind, user_id) SELECT 'USER', id FROM u RETURNING id`,
      )
    ).map((r) => r.id);
    for (const accountId of accounts) await purchase(ctx, { accountId, idempotencyKey: 'seed', actor: { kind: 'SERVICE' }, amount: 10_000_000n });
    const [endpoint] = await db.sql.query<{ id: string }>(
      `INSERT INTO webhook_endpoints (url, event_types, secret, created_by) VALUES ('http://127.0.0.1:9/hooks', '{entry.created}', 'whsec_AAAA', 'bench') RETURNING id`,
    );
    return await threeWays(ctx, accounts, endpoint!.id);
  } finally {
    await db.close();
  }
}

async function main(): Promise<void> {
  const database = await createServerDatabase('ck_bench_webhooks');
  const db = await openDatabase({ kind: 'postgres', url: database.url, poolSize: clients + 20 });
  const ctx: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  try {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    // Users and their accounts in one statement (as bench/spends.ts), then credits through the core.
    const accounts = (
      await db.sql.query<{ id: string }>(
        `WITH u AS (INSERT INTO users (external_id) SELECT 'bench-' || g FROM generate_series(1, $1::int) g RETURNING id)
         INSERT INTO accounts (owner_kind, user_id) SELECT 'USER', id FROM u RETURNING id`,
        [accountCount],
      )
    ).map((r) => r.id);
    for (let i = 0; i < accounts.length; i += 32) {
      await Promise.all(accounts.slice(i, i + 32).map((accountId) => purchase(ctx, { accountId, idempotencyKey: 'seed', actor: { kind: 'SERVICE' }, amount: 10_000_000n })));
    }
    const settings = webhookSettings({ ...process.env, WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8' });
    const endpoint = await registerWebhookEndpoint(
      ctx,
      { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`, eventTypes: ['entry.created'], createdBy: 'bench' },
      unrestricted,
      settings,
    );
    const runs = await threeWays(ctx, accounts, endpoint.id);
    const pglite = await pgliteRuns();

    const [queued] = await db.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status <> 'DELIVERED'`);
    const started = performance.now();
    const dispatcher = startWebhookDispatcher(ctx, { ...settings, WEBHOOK_POLL_MS: 20 });
    for (;;) {
      const [left] = await db.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status <> 'DELIVERED'`);
      if (left!.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const drainSeconds = (performance.now() - started) / 1_000;
    await dispatcher.stop();
    const report = await verifyLedger(db);
    const broken = report.checks.filter((c) => c.violations.length > 0).map((c) => c.name);

    const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
    const summary = (r: Runs) => ({
      spendsPerSecond: { trigger_disabled: r.noTrigger, no_endpoint: r.noEndpoint, one_endpoint_entry_created: r.oneEndpoint },
      outboxCostPercent: {
        no_endpoint_vs_trigger_disabled: Math.round((1 - mean(r.noEndpoint) / mean(r.noTrigger)) * 1000) / 10,
        one_endpoint_vs_no_endpoint: Math.round((1 - mean(r.oneEndpoint) / mean(r.noEndpoint)) * 1000) / 10,
      },
    });
    const result = {
      at: new Date().toISOString(),
      seconds,
      accounts: accountCount,
      clients,
      postgres: summary(runs),
      pglite: summary(pglite),
      delivered: { events: queued!.n, seconds: Math.round(drainSeconds * 10) / 10, perSecond: Math.round(queued!.n / drainSeconds), workers: settings.WEBHOOK_CONCURRENCY },
      ledgerVerified: broken.length === 0 ? true : broken,
    };
    for (const [engine, r, summed] of [['PostgreSQL', runs, result.postgres], ['PGlite', pglite, result.pglite]] as const) {
      console.log('spends/s (%s, %d workers, %d s each, two rounds alternated)', engine, clients, seconds);
      console.log('  trigger disabled            %s', r.noTrigger.join(' / '));
      console.log('  trigger, no endpoint        %s  (%s% below disabled)', r.noEndpoint.join(' / '), summed.outboxCostPercent.no_endpoint_vs_trigger_disabled);
      console.log('  one endpoint (every entry)  %s  (%s% below no endpoint)', r.oneEndpoint.join(' / '), summed.outboxCostPercent.one_endpoint_vs_no_endpoint);
    }
    console.log('events delivered/s to a loopback receiver: %d (%d events in %s s, %d workers)', result.delivered.perSecond, result.delivered.events, result.delivered.seconds, result.delivered.workers);
    console.log('ledger verified: %s', result.ledgerVerified === true ? 'yes' : result.ledgerVerified);
    const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `webhooks-${result.at.replace(/[:.]/g, '-')}.json`), JSON.stringify(result, null, 2));
    writeFileSync(join(dir, 'webhooks-latest.json'), JSON.stringify(result, null, 2));
    if (broken.length) process.exitCode = 1;
  } finally {
    receiver.close();
    await db.close();
    await database.drop();
  }
}

main().catch((error: unknown) => {
  console.error(`webhooks bench failed: ${failureReason(error)}`);
  process.exitCode = 1;
});
