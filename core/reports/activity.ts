import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { CoreContext } from '../context.js';
import type { ActorKind, EntryType } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput, type Source, uuid } from '../input.js';
import { type ActivityFilter, entryTypes } from '../ledger/entryTypes.js';
import { type EntryRow, sourceOf } from '../ledger/entryView.js';
import {
  type ActivityFilterValue,
  activityFilterChecks,
  activityFilterMessage,
  activityFilterShape,
  filterConditions,
  filterKey,
  typesShown,
} from './activityFilter.js';

export const activityInput = z
  .strictObject({
    accountId: uuid,
    ...activityFilterShape,
    /** 25 entries a page. */
    pageSize: z.number().int().min(1).max(100).default(25),
    /** From a previous page's `next` or `previous`; a cursor from another filter starts at page 1. */
    cursor: z.string().max(200).optional(),
  })
  .refine(activityFilterChecks, activityFilterMessage);

/** One row of the log: a single entry, or a group of usage close together in time. */
export interface ActivityRow {
  /** The row's first entry; with `seq`, what expands a group into its entries. */
  entryId: string;
  seq: bigint;
  type: EntryType;
  label: string;
  filter: ActivityFilter;
  category: string | null;
  action: string | null;
  description: string;
  source: Source;
  actor: { kind: ActorKind; id: string | null };
  note: string | null;
  /** When the row was written (and the balance moved); a group spans startedAt…endedAt. */
  startedAt: Date;
  endedAt: Date;
  /** When usage reported late happened (such a row is a single entry); null: at startedAt. */
  occurredAt: Date | null;
  /** Entries in the row (1 for a single entry). */
  count: number;
  /** Units charged over the row (images, turns…), where a price-list action priced it. */
  quantity: number | null;
  amount: bigint;
  balanceAfter: bigint;
  /** The original amount and the percent off, where a discount applied. */
  originalAmount: bigint | null;
  discountPercent: number | null;
}

export interface ActivityPage {
  rows: ActivityRow[];
  /** "Showing 26–50 of 212" (from and to are 0 on an empty page). */
  showing: { from: number; to: number; total: number };
  next: string | null;
  previous: string | null;
}

interface Cursor {
  key: string;
  /** Rows older than this seq (next page) or newer (previous page). */
  olderThan?: string;
  newerThan?: string;
  /**
   * How many rows of the filter, that one included, are at or older than that seq: fixed once
   * written (rows only ever arrive newer), so a page knows its place without counting the log.
   */
  rank?: number;
}

/**
 * /activity, newest first. Keyset pages on the entry sequence, so a deep page costs what the first does and
 * entries arriving while someone pages never shift, skip or repeat a row.
 */
export async function getActivity(ctx: CoreContext, input: z.input<typeof activityInput>): Promise<ActivityPage> {
  const request = parseInput(activityInput, input);
  const key = filterKey(request.accountId, request);
  const cursor = request.cursor === undefined ? undefined : decodeCursor(request.cursor);
  // Another filter's cursor (or one from before cursors carried their rank): back to page 1.
  const position = cursor?.key === key && cursor.rank !== undefined ? cursor : undefined;
  const types = typesShown(request);
  const newer = position?.newerThan !== undefined;
  const { found, records, total } =
    types.length === 0
      ? { found: await accountExists(ctx, request.accountId), records: [], total: 0 }
      : await readPage(ctx, request.accountId, types, request, request.pageSize + 1, position);
  if (!found) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${request.accountId}`);
  const hasMore = records.length > request.pageSize;
  const page = records.slice(0, request.pageSize);
  if (newer) page.reverse();
  const rows = page.map(toRow);

  // The first row's rank: on page 1 it is the newest row, counted in the same snapshot.
  const rank = !position ? total : newer ? position.rank! + rows.length : position.rank! - 1;
  const from = rows.length === 0 ? 0 : total - rank + 1;
  const olderExist = newer ? true : hasMore;
  const newerExist = newer ? hasMore : from > 1;
  return {
    rows,
    showing: { from, to: rows.length === 0 ? 0 : from + rows.length - 1, total },
    next: olderExist && rows.length > 0 ? encodeCursor({ key, olderThan: rows.at(-1)!.seq.toString(), rank: rank - rows.length + 1 }) : null,
    previous: newerExist && rows.length > 0 ? encodeCursor({ key, newerThan: rows[0]!.seq.toString(), rank }) : null,
  };
}

const maxSeq = '9223372036854775807';

/**
 * A page, its existence check and its "of n" in one statement and snapshot; one LATERAL index scan per type finds a
 * rare type among a million usage rows, in one text prepared once (README: How activity pages stay fast).
 */
async function readPage(
  ctx: CoreContext,
  accountId: string,
  types: EntryType[],
  filter: ActivityFilterValue,
  limit: number,
  position: Cursor | undefined,
): Promise<{ found: boolean; records: RowRecord[]; total: number }> {
  const newer = position?.newerThan !== undefined;
  const bound = newer ? position!.newerThan : position?.olderThan;
  const conditions = filterConditions(filter, 5);
  const order = newer ? 'ASC' : 'DESC';
  const total =
    conditions.params.length === 0
      ? `SELECT coalesce(sum(c.rows), 0) FROM activity_counts c WHERE c.account_id = $1::uuid AND c.type = ANY($4::text[]::"EntryType"[])`
      : `SELECT count(*) FROM entries h WHERE h.account_id = $1::uuid AND h.seq = h.group_seq
           AND h.type = ANY($4::text[]::"EntryType"[])${conditions.sql}`;
  const text = `WITH heads AS (
       SELECT head.seq FROM unnest($4::text[]::"EntryType"[]) AS shown(type) CROSS JOIN LATERAL (
         SELECT h.seq FROM entries h
         WHERE h.account_id = $1::uuid AND h.seq = h.group_seq AND h.type = shown.type
           AND h.seq ${newer ? '>' : '<'} (SELECT $3::bigint)${conditions.sql}
         ORDER BY h.seq ${order} LIMIT (SELECT $2::int)) head
       ORDER BY head.seq ${order} LIMIT (SELECT $2::int))
     SELECT EXISTS (SELECT FROM accounts WHERE id = $1::uuid) AS found, (${total})::int AS total,
       (SELECT coalesce(json_agg(r ORDER BY r.seq_order ${order}), '[]'::json) FROM (
         SELECT h.seq AS seq_order, h.id, h.seq::text AS seq, h.type, h.category, h.action, h.description, h.source_kind,
           h.source_id, h.source_label, h.source_url, h.actor_kind, h.actor_id, h.note, h.created_at, h.occurred_at, g.ended_at, g.count,
           g.quantity, g.amount, g.balance_after, g.original_amount, g.min_discount, g.max_discount
         FROM heads JOIN entries h ON h.account_id = $1::uuid AND h.seq = heads.seq CROSS JOIN LATERAL (
           SELECT count(*)::int AS count, max(m.created_at) AS ended_at, sum(m.quantity)::int AS quantity,
             sum(m.amount)::text AS amount, (array_agg(m.balance_after ORDER BY m.seq DESC))[1]::text AS balance_after,
             CASE WHEN bool_or(m.original_amount IS NOT NULL) THEN sum(coalesce(m.original_amount, m.amount))::text END
               AS original_amount,
             min(m.discount_percent) AS min_discount, max(m.discount_percent) AS max_discount
           FROM entries m WHERE m.account_id = h.account_id AND m.group_seq = h.seq) g) r) AS rows`;
  const [row] = await ctx.db.sql.query<{ found: boolean; total: number; rows: RowRecord[] }>(
    text,
    [accountId, limit, bound ?? maxSeq, types, ...conditions.params],
    `creditkeeper_activity_${createHash('sha256').update(text).digest('base64url').slice(0, 16)}`,
  );
  return { found: row!.found, records: row!.rows, total: row!.total };
}

/** A row's first entry, with what its group adds up to. */
type RowRecord = Pick<
  EntryRow,
  | 'id' | 'type' | 'category' | 'action' | 'description' | 'source_kind' | 'source_id' | 'source_label' | 'source_url'
  | 'actor_kind' | 'actor_id' | 'note' | 'created_at' | 'occurred_at'
> & {
  seq: string;
  ended_at: Date;
  count: number;
  quantity: number | null;
  amount: string;
  balance_after: string;
  original_amount: string | null;
  min_discount: number | null;
  max_discount: number | null;
};

async function accountExists(ctx: CoreContext, accountId: string): Promise<boolean> {
  return (await ctx.db.sql.query('SELECT 1 FROM accounts WHERE id = $1::uuid', [accountId])).length > 0;
}

function toRow(r: RowRecord): ActivityRow {
  return {
    entryId: r.id,
    seq: BigInt(r.seq),
    type: r.type,
    label: entryTypes[r.type].label,
    filter: entryTypes[r.type].filter,
    category: r.category,
    action: r.action,
    description: r.description,
    source: sourceOf(r),
    actor: { kind: r.actor_kind, id: r.actor_id },
    note: r.note,
    startedAt: new Date(r.created_at),
    endedAt: new Date(r.ended_at),
    occurredAt: r.occurred_at === null ? null : new Date(r.occurred_at),
    count: r.count,
    quantity: r.quantity,
    amount: BigInt(r.amount),
    balanceAfter: BigInt(r.balance_after),
    originalAmount: r.original_amount === null ? null : BigInt(r.original_amount),
    discountPercent: r.min_discount !== null && r.min_discount === r.max_discount ? r.min_discount : null,
  };
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

const cursorShape = z.strictObject({
  key: z.string(),
  olderThan: z.string().regex(/^\d{1,19}$/).optional(),
  newerThan: z.string().regex(/^\d{1,19}$/).optional(),
  rank: z.number().int().min(1).optional(),
});

function decodeCursor(text: string): Cursor {
  try {
    return cursorShape.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    throw new CreditkeeperError('VALIDATION_FAILED', 'cursor: not a cursor from this log; start from the first page', {
      issues: [{ path: 'cursor', message: 'not a cursor from this log' }],
    });
  }
}
