import type { ActorKind, EntryType } from '../db/generated/enums.js';
import type { Source } from '../input.js';
import { entryTypes } from './entryTypes.js';

/** An entry as every reader (use-case results, reports, transports) sees it. */
export interface EntryView {
  id: string;
  accountId: string;
  seq: bigint;
  type: EntryType;
  /** The seed wording for the type, e.g. "Image generation" rows carry category; "Monthly grant" is a label. */
  label: string;
  category: string | null;
  /** The price-list action and units behind a usage entry. */
  action: string | null;
  quantity: number | null;
  description: string;
  amount: bigint;
  balanceAfter: bigint;
  outstandingAfter: bigint;
  originalAmount: bigint | null;
  discountPercent: number | null;
  source: Source;
  actor: { kind: ActorKind; id: string | null };
  note: string | null;
  idempotencyKey: string;
  correctsId: string | null;
  /** The seq of the first entry of the usage group this entry belongs to (its own seq if none). */
  groupSeq: bigint;
  createdAt: Date;
  movements: { bucketId: string; amount: bigint }[];
}

/** Columns selected (as `e`) wherever entries are read back with raw SQL. */
export const entryColumns = `e.id, e.account_id, e.seq, e.type, e.category, e.action, e.quantity, e.description, e.amount, e.balance_after,
  e.outstanding_after, e.original_amount, e.discount_percent, e.source_kind, e.source_id, e.source_label, e.source_url,
  e.actor_kind, e.actor_id, e.note, e.idempotency_key, e.corrects_id, e.group_seq, e.created_at,
  (SELECT coalesce(json_agg(json_build_object('bucketId', m.bucket_id, 'amount', m.amount::text)), '[]'::json)
     FROM movements m WHERE m.entry_id = e.id) AS movements`;

export interface EntryRow {
  id: string;
  account_id: string;
  seq: bigint;
  type: EntryType;
  category: string | null;
  action: string | null;
  quantity: number | null;
  description: string;
  amount: bigint;
  balance_after: bigint;
  outstanding_after: bigint;
  original_amount: bigint | null;
  discount_percent: number | null;
  source_kind: string | null;
  source_id: string | null;
  source_label: string | null;
  source_url: string | null;
  actor_kind: ActorKind;
  actor_id: string | null;
  note: string | null;
  idempotency_key: string;
  corrects_id: string | null;
  group_seq: bigint | string;
  created_at: Date;
  movements: { bucketId: string; amount: string }[];
}

interface StagedShape {
  id: string;
  accountId: string;
  seq: bigint;
  type: EntryType;
  category: string | null;
  action: string | null;
  quantity: number | null;
  description: string;
  amount: bigint;
  balanceAfter: bigint;
  outstandingAfter: bigint;
  originalAmount: bigint | null;
  discountPercent: number | null;
  source: Source;
  actorKind: ActorKind;
  actorId: string | null;
  note: string | null;
  idempotencyKey: string;
  correctsId: string | null;
  groupSeq: bigint;
  createdAt: Date;
  movements: { bucketId: string; amount: bigint }[];
}

/** An entry's source from its four nullable columns, leaving out what is not set. */
export function sourceOf(row: Pick<EntryRow, 'source_kind' | 'source_id' | 'source_label' | 'source_url'>): Source {
  const source: Source = {};
  if (row.source_kind !== null) source.kind = row.source_kind;
  if (row.source_id !== null) source.id = row.source_id;
  if (row.source_label !== null) source.label = row.source_label;
  if (row.source_url !== null) source.url = row.source_url;
  return source;
}

export function toEntryView(entry: EntryRow | StagedShape): EntryView {
  if ('account_id' in entry) {
    return {
      id: entry.id,
      accountId: entry.account_id,
      seq: BigInt(entry.seq),
      type: entry.type,
      label: entryTypes[entry.type].label,
      category: entry.category,
      action: entry.action,
      quantity: entry.quantity,
      description: entry.description,
      amount: BigInt(entry.amount),
      balanceAfter: BigInt(entry.balance_after),
      outstandingAfter: BigInt(entry.outstanding_after),
      originalAmount: entry.original_amount === null ? null : BigInt(entry.original_amount),
      discountPercent: entry.discount_percent,
      source: sourceOf(entry),
      actor: { kind: entry.actor_kind, id: entry.actor_id },
      note: entry.note,
      idempotencyKey: entry.idempotency_key,
      correctsId: entry.corrects_id,
      groupSeq: BigInt(entry.group_seq),
      createdAt: new Date(entry.created_at),
      movements: entry.movements.map((m) => ({ bucketId: m.bucketId, amount: BigInt(m.amount) })),
    };
  }
  const { actorKind, actorId, requestHash: _requestHash, ...rest } = entry as StagedShape & { requestHash?: string };
  return { ...rest, label: entryTypes[entry.type].label, actor: { kind: actorKind, id: actorId } };
}
