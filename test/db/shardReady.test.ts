import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../admin/app.js';
import { observeWrites } from '../../cli/wireProcess.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import type { CoreContext } from '../../core/context.js';
import { type Database, openDatabase } from '../../core/db/database.js';
import { migrate, migrationsDir } from '../../core/db/migrate.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { voidGrant } from '../../core/ledger/voidGrant.js';
import { verifyLedger } from '../../core/ledger/verify.js';
import { landScheduledWrites } from '../../core/ledger/landScheduledWrites.js';
import { renewDueSubscriptions } from '../../core/plans/renewDueSubscriptions.js';
import { seedPlans } from '../../core/plans/planCatalog.js';
import { seedPriceList } from '../../core/pricing/priceList.js';
import { settleUnknownCharges } from '../../core/billing/settleUnknownCharges.js';
import { queueExpiringCredits } from '../../core/webhooks/queueExpiringCredits.js';
import { type PrivateCluster, startPrivateCluster } from '../support/privateCluster.js';

/**
 * Ready to shard by account (README, Past one server): the catalog of a migrated PostgreSQL says every
 * table of an account is keyed by it, and pg_stat_statements, after the ledger's scenarios ran through
 * the API and the cron's jobs, says every statement that touched such a table touched one account, but
 * for the exceptions named below with their reasons.
 */

/** Tables distributed by account (Citus: create_distributed_table(…, colocate_with => 'accounts')), by their distribution column. */
const distributed: Record<string, string> = {
  accounts: 'id',
  buckets: 'account_id',
  entries: 'account_id',
  movements: 'account_id',
  deposits: 'account_id',
  usage_rollups: 'account_id',
  entry_rollups: 'account_id',
  activity_counts: 'account_id',
  subscriptions: 'account_id',
  auto_reload_settings: 'account_id',
  auto_reload_reservations: 'account_id',
  scheduled_writes: 'account_id',
  webhook_events: 'account_id',
  webhook_deliveries: 'account_id',
};

/** Tables with an account_id that stay out of the distributed group, and why. */
const notDistributed: Record<string, string> = {
  audit_log: 'staff actions and refusals belong to no account (account_id null); listed by staff across accounts',
  portal_sessions: 'found by the hash of its link or cookie, before any account is known',
  balance_thresholds: "an account's or an organisation's (account_id null): a reference table, joined by the webhook trigger",
};

/** Unique indexes on distributed tables without the distribution column, and why. */
const uniqueExceptions: Record<string, string> = {
  accounts_user_id_key: "one account per owner: under Citus this moves to the owner's (reference) row, see README",
  accounts_organisation_id_key: 'as accounts_user_id_key',
  accounts_client_id_key: 'as accounts_user_id_key',
};

describe('ready to shard by account (PostgreSQL)', () => {
  let cluster: PrivateCluster | undefined;
  let database: Database | undefined;
  let server: Server | undefined;
  let observer: pg.Client | undefined;
  let ctx: CoreContext;
  let baseUrl = '';
  let service = '';
  let admin = '';

  beforeAll(async () => {
    cluster = await startPrivateCluster({ settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all', 'pg_stat_statements.max': '10000' } });
    const url = await cluster.createDatabase('ledger');
    database = await openDatabase({ kind: 'postgres', url, poolSize: 4 });
    ctx = { db: database, priceList: seedPriceList, plans: seedPlans };
    // The test's own statements run as another role, so that only Creditkeeper's are judged.
    observer = new pg.Client({ connectionString: url });
    await observer.connect();
    await observer.query('CREATE EXTENSION pg_stat_statements; CREATE ROLE observer LOGIN SUPERUSER');
    await observer.end();
    observer = new pg.Client({ connectionString: url.replace('root@', 'observer@') });
    await observer.connect();
    const actor = { kind: 'STAFF', id: 'shard-test' } as const;
    service = (await createApiToken(ctx, { name: 'host', scopes: ['SERVICE', 'READ'], actor })).secret;
    admin = (await createApiToken(ctx, { name: 'staff', scopes: ['ADMIN'], actor })).secret;
    const observed = observeWrites(ctx);
    server = createApp(observed.ctx, pino({ level: 'silent' }), { metrics: observed.metrics }).listen(0);
    await new Promise((resolve) => server!.once('listening', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 180_000);

  afterAll(async () => {
    server?.close();
    await observer?.end().catch(() => {});
    await database?.close().catch(() => {});
    await cluster?.remove();
  });

  let keys = 0;
  async function call(method: string, path: string, body?: unknown, token = service, key?: string) {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method === 'POST') headers['idempotency-key'] = key ?? `shard-${++keys}`;
    const reply = await fetch(`${baseUrl}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const text = await reply.text();
    return { status: reply.status, body: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : undefined };
  }
  async function ok(method: string, path: string, body?: unknown, token?: string, key?: string) {
    const reply = await call(method, path, body, token, key);
    expect(reply.status, `${method} ${path}: ${JSON.stringify(reply.body)}`).toBeLessThan(300);
    return reply.body;
  }

  it("keys every account's table by the account, from the catalog", async () => {
    const withAccount = (await observer!.query<{ table: string }>(
      `SELECT c.relname AS table FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attname = 'account_id' AND NOT a.attisdropped ORDER BY 1`,
    )).rows.map((r) => r.table);
    // A new table with an account must be placed in one list or the other.
    expect(withAccount.filter((t) => !(t in distributed) && !(t in notDistributed))).toEqual([]);
    const columns = (await observer!.query<{ table: string; column: string; not_null: boolean }>(
      `SELECT c.relname AS table, a.attname AS column, a.attnotnull AS not_null FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       WHERE c.relname = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped`,
      [Object.keys(distributed)],
    )).rows;
    for (const [table, column] of Object.entries(distributed)) {
      expect(columns.find((c) => c.table === table && c.column === column), `${table}.${column}`).toMatchObject({ not_null: true });
    }
    const uniques = (await observer!.query<{ table: string; index: string; columns: string[]; primary: boolean }>(
      `SELECT t.relname AS table, i.relname AS index, i_.indisprimary AS primary,
              array(SELECT a.attname FROM unnest(i_.indkey) k JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k)::text[] AS columns
       FROM pg_index i_ JOIN pg_class i ON i.oid = i_.indexrelid JOIN pg_class t ON t.oid = i_.indrelid
       WHERE i_.indisunique AND t.relname = ANY($1)`,
      [Object.keys(distributed)],
    )).rows;
    expect(uniques.filter((u) => u.primary).map((u) => u.table).sort()).toEqual(Object.keys(distributed).sort());
    const without = uniques.filter((u) => !u.columns.includes(distributed[u.table]!)).map((u) => u.index);
    expect(without.sort()).toEqual(Object.keys(uniqueExceptions).sort());
    // A foreign key between two distributed tables pairs the distribution columns, so both rows are on one shard.
    const foreignKeys = (await observer!.query<{ name: string; from: string; to: string; pairs: [string, string][] }>(
      `SELECT con.conname AS name, f.relname AS from, t.relname AS to,
              array(SELECT json_build_array(fa.attname, ta.attname) FROM unnest(con.conkey, con.confkey) AS k(f, t)
                    JOIN pg_attribute fa ON fa.attrelid = con.conrelid AND fa.attnum = k.f
                    JOIN pg_attribute ta ON ta.attrelid = con.confrelid AND ta.attnum = k.t) AS pairs
       FROM pg_constraint con JOIN pg_class f ON f.oid = con.conrelid JOIN pg_class t ON t.oid = con.confrelid
       WHERE con.contype = 'f' AND f.relname = ANY($1) AND t.relname = ANY($1)`,
      [Object.keys(distributed)],
    )).rows;
    expect(foreignKeys.length).toBeGreaterThanOrEqual(15);
    const unpaired = foreignKeys.filter((fk) => !fk.pairs.some(([from, to]) => from === distributed[fk.from] && to === distributed[fk.to]));
    expect(unpaired.map((fk) => fk.name)).toEqual([]);
  });

  it('touches one account in every statement of the write path and the reports, but for the named exceptions', { timeout: 180_000 }, async () => {
    await observer!.query('SELECT pg_stat_statements_reset()');
    // Two users and an organisation's client; a webhook endpoint, so the triggers queue events.
    const ann = (await ok('POST', '/v1/accounts', { owner: { kind: 'USER', externalId: 'ann', displayName: 'Ann' } })).accountId as string;
    const bob = (await ok('POST', '/v1/accounts', { owner: { kind: 'USER', externalId: 'bob' } })).accountId as string;
    await ok('POST', '/v1/accounts', { owner: { kind: 'ORGANISATION', externalId: 'acme', name: 'Acme' } });
    const client = (await ok('POST', '/v1/accounts', { owner: { kind: 'CLIENT', organisationExternalId: 'acme', externalId: 'c1', name: 'C1' } })).accountId as string;
    await ok('POST', '/v1/webhooks/endpoints', { url: 'https://93.184.215.14/hooks', eventTypes: ['entry.created', 'balance.low', 'credits.expiring'] });
    await ok('POST', `/v1/accounts/${ann}/balance-thresholds`, { levels: [{ amount: 50 }] });
    await ok('POST', '/v1/organisations/acme/balance-thresholds', { levels: [{ amount: 20 }] });
    // Grants, purchases, spends, a deposit reconciled and one voided, a refund, a void, a reversal, staff writes.
    await ok('POST', `/v1/accounts/${ann}/purchases`, { amount: 500 });
    const bonus = await ok('POST', `/v1/accounts/${ann}/grants`, { type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 100 });
    const expiring = new Date(Date.now() + 1_500).toISOString();
    await ok('POST', `/v1/accounts/${ann}/grants`, { type: 'MANUAL_CREDIT', bucket: 'PROMO', amount: 7, expiresAt: expiring, reason: 'Promo' });
    const used = await ok('POST', `/v1/accounts/${ann}/usage`, { charge: { action: 'image', quantity: 2 } });
    for (let i = 0; i < 3; i++) await ok('POST', `/v1/accounts/${ann}/usage`, { charge: { action: 'chat', quantity: 3 } });
    await ok('POST', `/v1/accounts/${ann}/usage?dryRun=true`, { charge: { action: 'chat', quantity: 1 } });
    await ok('POST', `/v1/accounts/${ann}/quote`, { charge: { action: 'image', quantity: 1 } });
    await ok('POST', `/v1/accounts/${ann}/refunds`, { entryId: used.entries[0].id, amount: 1, reason: 'Blurry' });
    const submitted = await ok('POST', `/v1/accounts/${ann}/usage`, { charge: { action: 'submission', clipSeconds: [10, 20] } });
    await ok('POST', `/v1/accounts/${ann}/deposits/${submitted.depositId}/reconciliation`, { actual: { amount: 3 } });
    const withdrawn = await ok('POST', `/v1/accounts/${ann}/usage`, { charge: { action: 'submission', clipSeconds: [5] } });
    await ok('POST', `/v1/accounts/${ann}/deposits/${withdrawn.depositId}/void`, { reason: 'Withdrawn' });
    await ok('POST', `/v1/accounts/${ann}/grants/${bonus.entries[0].id}/void`, { reason: 'By mistake' });
    await ok('POST', `/v1/admin/accounts/${ann}/adjustments`, { amount: 5, reason: 'Goodwill' }, admin);
    await ok('POST', `/v1/admin/accounts/${ann}/write-offs`, { amount: 2, reason: 'Cleanup' }, admin);
    await ok('POST', `/v1/accounts/${bob}/purchases`, { amount: 80 });
    const bobBought = await ok('POST', `/v1/accounts/${bob}/purchases`, { amount: 20 });
    await ok('POST', `/v1/accounts/${bob}/purchases/${bobBought.entries[0].id}/reversal`, { reason: 'Chargeback' });
    await ok('POST', `/v1/accounts/${client}/purchases`, { amount: 30 });
    // The group commit: several accounts' usage in one request.
    await ok('POST', '/v1/usage/batch', { events: [ann, bob, client].map((accountId, i) => ({ accountId, idempotencyKey: `batch-${i}`, charge: { action: 'chat', quantity: 1 } })) });
    // Auto-reload on a spend past the balance, its charge declined.
    await ok('POST', `/v1/accounts/${bob}/auto-reload`, { enabled: true, amount: 50, monthlyLimit: 100 });
    // Plans: subscribe, renew when due (the cron's job), change, cancel.
    await ok('POST', `/v1/accounts/${client}/subscription`, { plan: 'growth' });
    await observer!.query("UPDATE subscriptions SET period_end = clock_timestamp() - interval '1 second', period_start = clock_timestamp() - interval '1 month'");
    const logger = pino({ level: 'silent' });
    expect((await renewDueSubscriptions(ctx, { logger })).granted).toBe(1);
    await ok('POST', `/v1/accounts/${client}/subscription`, { plan: 'starter' });
    // A dated grant, landed when due; the cron's other jobs.
    await ok('POST', `/v1/accounts/${bob}/grants`, { type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 9, effectiveAt: new Date(Date.now() + 1_000).toISOString() });
    const dated = await ok('POST', `/v1/accounts/${bob}/grants`, { type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 4, effectiveAt: new Date(Date.now() + 86_400_000).toISOString() });
    await ok('GET', `/v1/accounts/${bob}/scheduled`);
    await ok('POST', `/v1/accounts/${bob}/scheduled/${dated.scheduled.id}/cancel`, { reason: 'Not needed' });
    await queueExpiringCredits(ctx, { WEBHOOK_EXPIRING_WITHIN_HOURS: 72 });
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    expect((await landScheduledWrites(ctx, { logger })).landed).toBe(1);
    await settleUnknownCharges(ctx, { logger });
    // The promo bucket has expired: the next write expires it.
    await ok('POST', `/v1/accounts/${ann}/usage`, { charge: { action: 'chat', quantity: 1 } });
    await ok('POST', `/v1/accounts/${client}/subscription/cancel`, {});
    for (let i = 0; i < 2; i++) await ok('POST', `/v1/accounts/${ann}/usage`, { charge: { action: 'submission', clipSeconds: [5] } }, undefined, 'replayed-clip');
    // Every report.
    for (const accountId of [ann, bob, client]) {
      const account = `/v1/accounts/${accountId}`;
      await ok('GET', `${account}/balance`);
      await ok('GET', `${account}/balance?at=${encodeURIComponent(new Date(Date.now() - 2_000).toISOString())}`);
      const activity = await ok('GET', `${account}/activity`);
      await ok('GET', `${account}/activity?filter=USED`);
      if (activity.rows[0]) await ok('GET', `${account}/activity/groups/${activity.rows[0].seq}`);
      await ok('GET', `${account}/activity.csv`);
      await ok('GET', `${account}/usage/daily`);
      await ok('GET', `${account}/usage/monthly`);
      await ok('GET', `${account}/why`);
      await call('GET', `${account}/subscription`);
      await ok('GET', `${account}/auto-reload`);
      await ok('GET', `${account}/balance-thresholds`);
    }

    const statements = (await observer!.query<{ query: string; calls: number }>(
      `SELECT query, calls::int FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'ledger') AND userid = (SELECT oid FROM pg_roles WHERE rolname = 'root')`,
    )).rows;
    const touching = statements.filter((s) => touchedTables(s.query).length > 0);
    expect(touching.length).toBeGreaterThan(40);
    const unexplained = touching.filter((s) => !oneAccount(s.query) && !exceptions.some((e) => e.matches.test(s.query)));
    expect(unexplained.map((s) => s.query)).toEqual([]);
    // Every exception named was met: none is left over from code that has gone.
    expect(exceptions.filter((e) => !touching.some((s) => e.matches.test(s.query))).map((e) => e.name)).toEqual([]);
  });

  it('upgrades a ledger written under the old keys, on PostgreSQL and PGlite', { timeout: 120_000 }, async () => {
    // Every migration but this one, then a ledger with a correction, movements and a deposit, then this one.
    const before = mkdtempSync(join(tmpdir(), 'ck-migrations-'));
    cpSync(migrationsDir, before, { recursive: true, filter: (path) => !path.includes('_shard_keys') });
    try {
      for (const target of [{ kind: 'postgres' as const, url: await cluster!.createDatabase('upgrade') }, { kind: 'memory' as const }]) {
        const db = await openDatabase(target, { migrate: false });
        try {
          await migrate(db.sql, before);
          const old: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
          const actor = { kind: 'SERVICE' } as const;
          const { accountId } = await openAccount(old, { owner: { kind: 'USER', externalId: 'upgraded' } });
          await purchase(old, { accountId, idempotencyKey: 'buy', actor, amount: 100n });
          const bonus = await grant(old, { accountId, idempotencyKey: 'bonus', actor, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 1_000n });
          await spend(old, { accountId, idempotencyKey: 'chat', actor, charge: { action: 'chat', quantity: 4 } });
          await spend(old, { accountId, idempotencyKey: 'clip', actor, charge: { action: 'submission', clipSeconds: [10] } });
          await voidGrant(old, { accountId, idempotencyKey: 'void', actor, entryId: bonus.entries[0]!.id });
          expect((await migrate(db.sql)).applied).toEqual(['20261224000000_shard_keys']);
          const [key] = await db.sql.query<{ columns: string }>(
            "SELECT pg_get_constraintdef(oid) AS columns FROM pg_constraint WHERE conname = 'entries_pkey'",
          );
          expect(key!.columns).toBe('PRIMARY KEY (account_id, id)');
          expect((await verifyLedger(db)).ok).toBe(true);
          // And it goes on writing: the same key replays, a new one lands.
          const upgraded: CoreContext = { ...old, db };
          expect((await spend(upgraded, { accountId, idempotencyKey: 'chat', actor, charge: { action: 'chat', quantity: 4 } })).replayed).toBe(true);
          expect((await spend(upgraded, { accountId, idempotencyKey: 'chat-2', actor, charge: { action: 'chat', quantity: 1 } })).replayed).toBe(false);
        } finally {
          await db.close();
        }
      }
    } finally {
      rmSync(before, { recursive: true, force: true });
    }
  });
});

const tablePattern = new RegExp(`\\b(?:from|join|into|update)\\s+(?:"?public"?\\.)?"?(${Object.keys(distributed).join('|')})"?\\b`, 'gi');

function touchedTables(query: string): string[] {
  return [...query.matchAll(tablePattern)].map((m) => m[1]!.toLowerCase());
}

/**
 * What makes a statement one account's: it filters on account_id by a parameter, or on the account's id, or
 * inserts one row (its account named, or the new account's own id); and every join of a table of the group is
 * on the account, so all its rows are on one shard. Read from the text: a check of how the code is written.
 */
function oneAccount(query: string): boolean {
  const joins = [...query.matchAll(joinPattern)].map((m) => m[1]!);
  if (joins.some((on) => !/account_id|\.id\s*=\s*\w+\.account_id|account_id\s*=\s*\w+\.id/i.test(on))) return false;
  if (/\baccount_id"?\s*=\s*\(?\$\d+/i.test(query)) return true;
  const aliases = [...query.matchAll(/\b(?:from|join)\s+accounts\s+(?:as\s+)?(?!where\b|left\b|join\b|on\b|cross\b|inner\b)(\w+)/gi)].map((m) => m[1]!);
  if (aliases.some((alias) => new RegExp(`\\b${alias}\\.id\\s*=\\s*\\$\\d+`, 'i').test(query))) return true;
  if (/\baccounts\s+WHERE\s+(?:accounts\.)?id\s*=\s*\$\d+|\baccounts"?\."?id"?\s*=\s*\$\d+/i.test(query)) return true;
  return /^\s*INSERT\s+INTO\b/i.test(query) && /\bVALUES\s*\(/i.test(query) && !/\)\s*,\s*\(/.test(query.split(/\bRETURNING\b/i)[0]!) && !/\bSELECT\b/i.test(query);
}

/** A join of a table of the group, and its condition (up to the next clause). */
const joinPattern = new RegExp(
  `\\bJOIN\\s+(?:${Object.keys(distributed).join('|')})\\b(?:\\s+(?:AS\\s+)?\\w+)?\\s+ON\\s+([\\s\\S]*?)(?=\\b(?:LEFT\\s+|INNER\\s+|CROSS\\s+)?JOIN\\b|\\bWHERE\\b|\\bGROUP\\b|\\bORDER\\b|\\bLIMIT\\b|\\)|$)`,
  'gi',
);

/** Statements that touch several accounts on purpose, each with why and what it becomes under Citus (README, Past one server). */
const exceptions: { name: string; matches: RegExp; why: string }[] = [
  {
    name: 'group commit: the flush',
    matches: /^WITH input AS \(SELECT \$1::jsonb AS doc\),\s*account AS/,
    why: 'writes every account of a write group in one statement; under Citus one such statement per shard, in one distributed transaction',
  },
  {
    name: "group commit: the group's state read",
    matches: /FROM jsonb_to_recordset\(\$1::jsonb\) AS r\(id uuid, keys text\[\]\)/,
    why: 'reads every account of a write group at once (each by its id); under Citus one per shard, as the flush',
  },
  {
    name: "the flush's webhook trigger",
    matches: /FROM new_entries n JOIN accounts a ON a\.id = n\.account_id/,
    why: 'runs inside the flush over the entries it wrote, each joined to its own account; on a shard it sees that shard\'s',
  },
  {
    name: 'queueing webhook events',
    matches: /jsonb_to_recordset\("happened"\)/,
    why: 'called by that trigger and the expiring-credits sweep with their events, each naming its account',
  },
  {
    name: 'renewal sweep: claiming due subscriptions',
    matches: /FROM subscriptions WHERE status = \$\d+ AND period_end <= clock_timestamp\(\)/,
    why: 'finds what is due across accounts (the cron); under Citus a multi-shard SELECT … FOR UPDATE, off the request path',
  },
  {
    name: 'renewal sweep: moving the batch on',
    matches: /^UPDATE subscriptions s SET period_index = r\.period_index/,
    why: "the claimed batch's subscriptions in one statement; under Citus one per shard",
  },
  {
    name: 'scheduled writes sweep',
    matches: /FROM scheduled_writes\s+WHERE landed_at IS NULL AND failure IS NULL AND cancelled_at IS NULL AND effective_at <= clock_timestamp\(\)/,
    why: 'finds the dated writes due across accounts (the cron); each then lands as its own account\'s write',
  },
  {
    name: 'expiring credits sweep',
    matches: /AS any\s*\), expiring AS/,
    why: 'finds buckets expiring soon across accounts (the cron) to queue credits.expiring',
  },
  {
    name: "an owner's account",
    matches: /FROM "public"\."accounts" WHERE \("public"\."accounts"\."(?:user_id|organisation_id|client_id)" = \$1/,
    why: "which account a user, organisation or client has (opening one): under Citus read from the owner's reference row",
  },
];
