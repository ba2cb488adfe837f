import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { engines, useFreshDatabase } from '../support/databases.js';

/**
 * The migrations are hand-written SQL (Prisma's migrate engine cannot run here), so this test is
 * what keeps them honest: the migrated database must have exactly the tables, columns, types,
 * nullability, enums, primary keys, unique constraints and indexes the Prisma schema describes.
 */
interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'object' | 'enum';
  type: string;
  isRequired: boolean;
  isList: boolean;
  nativeType?: [string, string[]] | null;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
  primaryKey: { fields: string[] } | null;
  uniqueFields: string[][];
}
interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  fields: { name: string }[];
}

const require = createRequire(import.meta.url);
const wasm = require('@prisma/prisma-schema-wasm') as { get_dmmf(params: string): string };
const schema = readFileSync(new URL('../../prisma/schema.prisma', import.meta.url), 'utf8');
const dmmf = JSON.parse(wasm.get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', schema]] }))) as {
  datamodel: { models: DmmfModel[]; enums: { name: string; values: { name: string }[] }[]; indexes: DmmfIndex[] };
};

const scalarTypes: Record<string, string> = {
  String: 'text',
  BigInt: 'bigint',
  Int: 'integer',
  Boolean: 'boolean',
  DateTime: 'timestamp without time zone',
  Json: 'jsonb',
};
const nativeTypes: Record<string, string> = { Uuid: 'uuid', Timestamptz: 'timestamp with time zone' };

function expectedColumns(model: DmmfModel): Record<string, { type: string; nullable: boolean }> {
  const columns: Record<string, { type: string; nullable: boolean }> = {};
  for (const field of model.fields) {
    if (field.kind === 'object') continue;
    const type =
      field.kind === 'enum'
        ? `enum:${field.type}`
        : field.nativeType
          ? nativeTypes[field.nativeType[0]]!
          : scalarTypes[field.type]!;
    // Prisma lists are PostgreSQL arrays, which are always nullable columns.
    columns[field.dbName ?? field.name] = field.isList ? { type: `array:${type}`, nullable: true } : { type, nullable: !field.isRequired };
  }
  return columns;
}

function column(model: DmmfModel, fieldName: string): string {
  const field = model.fields.find((f) => f.name === fieldName)!;
  return field.dbName ?? field.name;
}

describe.each(engines)('the migrated %s database matches prisma/schema.prisma', (engine) => {
  const db = useFreshDatabase(engine);

  it('has every model table with the same columns, types and nullability, and no others', async () => {
    const rows = await db.sql.query<{ table_name: string; column_name: string; data_type: string; udt_name: string; is_nullable: string }>(
      `SELECT table_name, column_name, data_type, udt_name, is_nullable FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name <> '_prisma_migrations'`,
    );
    const actual: Record<string, Record<string, { type: string; nullable: boolean }>> = {};
    for (const r of rows) {
      (actual[r.table_name] ??= {})[r.column_name] = {
        type:
          r.data_type === 'USER-DEFINED'
            ? `enum:${r.udt_name}`
            : r.data_type === 'ARRAY'
              ? `array:${r.udt_name === '_text' ? 'text' : `enum:${r.udt_name.slice(1)}`}`
              : r.data_type,
        nullable: r.is_nullable === 'YES',
      };
    }
    const expected = Object.fromEntries(dmmf.datamodel.models.map((m) => [m.dbName ?? m.name, expectedColumns(m)]));
    expect(actual).toEqual(expected);
  });

  it('has the same enums with the same values', async () => {
    const rows = await db.sql.query<{ name: string; labels: string[] }>(
      `SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
       WHERE n.nspname = current_schema() GROUP BY t.typname`,
    );
    const expected = Object.fromEntries(dmmf.datamodel.enums.map((e) => [e.name, e.values.map((v) => v.name)]));
    expect(Object.fromEntries(rows.map((r) => [r.name, r.labels]))).toEqual(expected);
  });

  it('has every primary key, unique constraint and index the schema declares', async () => {
    const rows = await db.sql.query<{ table_name: string; columns: string[]; is_unique: boolean; is_primary: boolean; partial: boolean }>(
      `SELECT t.relname AS table_name, i.indisunique AS is_unique, i.indisprimary AS is_primary,
         i.indpred IS NOT NULL AS partial,
         array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n) AS columns
       FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace ns ON ns.oid = t.relnamespace
       WHERE ns.nspname = current_schema() AND t.relname <> '_prisma_migrations'`,
    );
    const actual = rows
      .filter((r) => !r.partial) // partial indexes are extra speed the schema language cannot express
      .map((r) => `${r.table_name}(${r.columns.join(',')})${r.is_primary ? ' primary' : r.is_unique ? ' unique' : ''}`)
      .sort();
    const expected = dmmf.datamodel.indexes
      .map((index) => {
        const model = dmmf.datamodel.models.find((m) => m.name === index.model)!;
        const columns = index.fields.map((f) => column(model, f.name)).join(',');
        const kind = index.type === 'id' ? ' primary' : index.type === 'unique' ? ' unique' : '';
        return `${model.dbName ?? model.name}(${columns})${kind}`;
      })
      .sort();
    expect(actual).toEqual(expected);
  });

  it('round-trips every model through the generated client', async () => {
    const { prisma } = db;
    const user = await prisma.user.create({ data: { externalId: 'drift-user', displayName: 'Drift', timeZone: 'Europe/Paris' } });
    const organisation = await prisma.organisation.create({ data: { externalId: 'drift-org', name: 'Drift Org' } });
    const client = await prisma.client.create({ data: { organisationId: organisation.id, externalId: 'c1', name: 'Client A' } });
    await prisma.member.create({ data: { organisationId: organisation.id, userId: user.id, role: 'OPERATOR' } });
    const account = await prisma.account.create({ data: { ownerKind: 'CLIENT', clientId: client.id } });
    const bucket = await prisma.bucket.create({
      data: { accountId: account.id, kind: 'PLAN', granted: 5n, remaining: 5n, priority: 20, expiresAt: new Date('2030-01-01T00:00:00Z') },
    });
    const entry = await prisma.entry.create({
      data: {
        accountId: account.id, seq: 1n, type: 'PLAN_GRANT', description: 'Monthly grant', amount: 5n, balanceAfter: 5n,
        outstandingAfter: 0n, originalAmount: 6n, discountPercent: 10, sourceKind: 'plan', sourceId: 'growth',
        sourceLabel: 'Growth', sourceUrl: 'https://example.com', actorKind: 'SYSTEM', actorId: 'cron', note: 'n',
        idempotencyKey: 'k', requestHash: 'h', category: 'Plan', groupSeq: 1n, action: 'plan', quantity: 1,
      },
    });
    await prisma.movement.create({ data: { accountId: account.id, entryId: entry.id, seq: 1n, bucketId: bucket.id, amount: 5n, remainingAfter: 5n } });
    await prisma.deposit.create({ data: { accountId: account.id, entryId: entry.id, charged: 5n, held: 1n, action: 'submission' } });
    await prisma.usageRollup.create({ data: { accountId: account.id, periodStart: new Date('2030-01-01T00:00:00Z'), used: 1n, added: 5n, usageCount: 1 } });

    const token = await prisma.apiToken.create({ data: { name: 'host', secretHash: 'h1', scopes: ['SERVICE', 'READ'], organisationId: organisation.id } });
    await prisma.auditEntry.create({
      data: { actorKind: 'STAFF', actorId: 'ana', action: 'adjust', outcome: 'done', accountId: account.id, entryId: entry.id, reason: 'r', origin: { transport: 'http' }, details: { amount: '5' } },
    });
    await prisma.storedResponse.create({ data: { scope: token.id, key: 'k', requestHash: 'h', status: 201, body: { ok: true } } });
    expect(await prisma.apiToken.findUniqueOrThrow({ where: { secretHash: 'h1' } })).toMatchObject({ scopes: ['SERVICE', 'READ'] });
    expect(await prisma.auditEntry.findFirstOrThrow({ where: { accountId: account.id } })).toMatchObject({ origin: { transport: 'http' } });
    expect(await prisma.storedResponse.findUniqueOrThrow({ where: { scope_key: { scope: token.id, key: 'k' } } })).toMatchObject({ status: 201, body: { ok: true } });

    await prisma.adminSession.create({ data: { idHash: 's', staffId: 'ana', csrfToken: 'c', expiresAt: new Date('2030-01-01T00:00:00Z') } });
    await prisma.loginLink.create({ data: { secretHash: 'l', staffId: 'ana', expiresAt: new Date('2030-01-01T00:00:00Z') } });
    expect(await prisma.loginLink.findUniqueOrThrow({ where: { secretHash: 'l' } })).toMatchObject({ usedAt: null, staffId: 'ana' });
    expect(await prisma.adminSession.count()).toBe(1);

    const loaded = await prisma.account.findUniqueOrThrow({
      where: { id: account.id },
      include: { client: { include: { organisation: { include: { members: true } } } }, buckets: true, entries: { include: { movements: true } }, deposits: true, rollups: true },
    });
    expect(loaded.client?.organisation.members[0]?.role).toBe('OPERATOR');
    expect(loaded.buckets[0]?.expiresAt?.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    expect(loaded.entries[0]).toMatchObject({ originalAmount: 6n, discountPercent: 10, movements: [{ amount: 5n }] });
    expect(loaded.deposits[0]).toMatchObject({ status: 'IN_FLIGHT', action: 'submission' });
    expect(loaded.rollups[0]).toMatchObject({ used: 1n, usageCount: 1 });
  });

  it('refuses to update or delete an entry: the log is append-only', async () => {
    await expect(db.sql.query("UPDATE entries SET amount = 500 WHERE idempotency_key = 'k'")).rejects.toThrow(/append-only/);
    await expect(db.sql.query("DELETE FROM entries WHERE idempotency_key = 'k'")).rejects.toThrow(/append-only/);
  });
});
