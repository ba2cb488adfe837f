import type { ActorKind, EntryType } from '../db/generated/enums.js';

/** Every column a write stages, with its SQL type: the flush's and the read-back's columns and row types come from it (account_id, created_at: the flush's). */
export const entryColumnTypes = {
  id: 'uuid',
  seq: 'bigint',
  type: '"EntryType"',
  category: 'text null',
  action: 'text null',
  quantity: 'int null',
  description: 'text',
  amount: 'bigint',
  balance_after: 'bigint',
  outstanding_after: 'bigint',
  original_amount: 'bigint null',
  discount_percent: 'int null',
  source_kind: 'text null',
  source_id: 'text null',
  source_label: 'text null',
  source_url: 'text null',
  actor_kind: '"ActorKind"',
  actor_id: 'text null',
  note: 'text null',
  idempotency_key: 'text',
  /** Set on an operation's own entry: what makes a retry "the same request". */
  request_hash: 'text',
  corrects_id: 'uuid null',
  group_seq: 'bigint',
  /** When a usage event reported late happened (null: when written, at created_at). */
  occurred_at: 'timestamptz null',
} as const;

export type EntryColumn = keyof typeof entryColumnTypes;
type SqlTypeOf<C extends EntryColumn> = (typeof entryColumnTypes)[C] extends `${infer T} null` ? T : (typeof entryColumnTypes)[C];
type NullOf<C extends EntryColumn> = (typeof entryColumnTypes)[C] extends `${string} null` ? null : never;
/** A value as JSON carries it to the database: bigints as text (JSON has none). */
type Sent<T> = T extends 'int' ? number : T extends '"EntryType"' ? EntryType : T extends '"ActorKind"' ? ActorKind : string;
/** A value as the drivers read it back: PGlite gives a bigint, node-postgres its text; both a Date for a time. */
type Read<T> = T extends 'bigint' ? bigint | string : T extends 'timestamptz' ? Date : Sent<T>;

/** An entry as the flush sends it, naming its account. */
export type EntryFlushRow = { account_id: string } & { [C in EntryColumn]: Sent<SqlTypeOf<C>> | NullOf<C> };
/** An entry's columns as raw SQL reads them. */
export type EntryColumnsRead = { [C in EntryColumn]: Read<SqlTypeOf<C>> | NullOf<C> };

const columns = Object.keys(entryColumnTypes) as EntryColumn[];

/** The flush's column list, as `INSERT INTO entries (…)` names them, after account_id and created_at. */
export const entryInsertColumns = columns.join(', ');
/** The same columns from the flush document's rows (`e`). */
export const entryInsertValues = columns.map((column) => `e.${column}`).join(', ');
/** The flush document's entry rows as `jsonb_to_recordset` types them. */
export const entryRecordType = ['account_id uuid', ...columns.map((column) => `${column} ${entryColumnTypes[column].replace(/ null$/, '')}`)].join(', ');
/** Selected (as `e`) wherever entries are read back: every column but the request's hash. */
export const entryReadColumns = ['account_id', ...columns.filter((column) => column !== 'request_hash'), 'created_at'].map((column) => `e.${column}`).join(', ');
