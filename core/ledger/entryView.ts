import type { ActorKind, EntryType } from '../db/generated/enums.js';
import type { Source } from '../input.js';
import { type EntryColumnsRead, entryReadColumns } from './entriesTable.js';
import { entryTypes } from './entryTypes.js';

/** An entry as every reader (use-case results, reports, transports) sees it. */
export interface EntryView {
  id: string;
  accountId: string;
  seq: bigint;
  type: EntryType;
  /** The wording for the type, e.g. "Monthly grant"; usage rows carry their category ("Image generation"). */
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
  /** When the balance moved: the write's time, in seq order. */
  createdAt: Date;
  /** When a usage event reported late happened (usage reports count it then); null: at createdAt. */
  occurredAt: Date | null;
  movements: { bucketId: string; amount: bigint }[];
}

/**
 * An entry as a write stages it: what readers will see, less what its flush stamps (account and
 * time) and the label; with the hash of its request, which makes a retry "the same request".
 */
export type StagedEntry = Omit<EntryView, 'accountId' | 'createdAt' | 'label'> & { requestHash: string };

/** Columns selected (as `e`) wherever entries are read back with raw SQL. */
export const entryColumns = `${entryReadColumns},
  (SELECT coalesce(json_agg(json_build_object('bucketId', m.bucket_id, 'amount', m.amount::text)), '[]'::json)
     FROM movements m WHERE m.account_id = e.account_id AND m.entry_id = e.id) AS movements`;

/** An entry as `entryColumns` reads it. */
export type EntryRow = Omit<EntryColumnsRead, 'request_hash'> & {
  account_id: string;
  created_at: Date;
  movements: { bucketId: string; amount: string }[];
};

/** An entry's source from its four nullable columns, leaving out what is not set. */
export function sourceOf(row: Pick<EntryRow, 'source_kind' | 'source_id' | 'source_label' | 'source_url'>): Source {
  const source: Source = {};
  if (row.source_kind !== null) source.kind = row.source_kind;
  if (row.source_id !== null) source.id = row.source_id;
  if (row.source_label !== null) source.label = row.source_label;
  if (row.source_url !== null) source.url = row.source_url;
  return source;
}

export function toEntryView(row: EntryRow): EntryView {
  return {
    id: row.id,
    accountId: row.account_id,
    seq: BigInt(row.seq),
    type: row.type,
    label: entryTypes[row.type].label,
    category: row.category,
    action: row.action,
    quantity: row.quantity,
    description: row.description,
    amount: BigInt(row.amount),
    balanceAfter: BigInt(row.balance_after),
    outstandingAfter: BigInt(row.outstanding_after),
    originalAmount: row.original_amount === null ? null : BigInt(row.original_amount),
    discountPercent: row.discount_percent,
    source: sourceOf(row),
    actor: { kind: row.actor_kind, id: row.actor_id },
    note: row.note,
    idempotencyKey: row.idempotency_key,
    correctsId: row.corrects_id,
    groupSeq: BigInt(row.group_seq),
    createdAt: new Date(row.created_at),
    occurredAt: row.occurred_at === null ? null : new Date(row.occurred_at),
    movements: row.movements.map((m) => ({ bucketId: m.bucketId, amount: BigInt(m.amount) })),
  };
}

/** A staged entry as readers will see it once its account's flush lands, at `createdAt`. */
export function stagedEntryView({ requestHash: _requestHash, ...entry }: StagedEntry, accountId: string, createdAt: Date): EntryView {
  return { ...entry, accountId, createdAt, label: entryTypes[entry.type].label };
}
