import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EntryType } from '../db/generated/enums.js';
import { date } from '../input.js';
import { type ActivityFilter, entryTypes } from '../ledger/entryTypes.js';

/**
 * The filters every activity view shares (the log, its CSV export): the segments
 * (All / Added / Used / Adjustments), narrowed by type, category, source and date range.
 */
const maxRangeDays = 3660;

export const activityFilterShape = {
  filter: z.enum(['ALL', 'ADDED', 'USED', 'ADJUSTMENTS']).default('ALL'),
  types: z.array(z.enum(Object.values(EntryType) as [EntryType, ...EntryType[]])).min(1).max(50).optional(),
  category: z.string().trim().min(1).max(100).optional(),
  source: z
    .strictObject({ kind: z.string().min(1).max(50).optional(), id: z.string().min(1).max(200).optional() })
    .optional(),
  from: date.optional(),
  to: date.optional(),
};

export const activityFilterChecks = <T extends { from?: Date | undefined; to?: Date | undefined }>(value: T) =>
  !value.from || !value.to || (value.from < value.to && value.to.getTime() - value.from.getTime() <= maxRangeDays * 86_400_000);
export const activityFilterMessage = {
  message: `from must be before to, and the range at most ${maxRangeDays} days`,
  path: ['to'],
};

export interface ActivityFilterValue {
  filter: 'ALL' | ActivityFilter;
  types?: EntryType[] | undefined;
  category?: string | undefined;
  source?: { kind?: string | undefined; id?: string | undefined } | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
}

/** The entry types a filter shows: its segment, intersected with the types asked for. */
export function typesShown(value: ActivityFilterValue): EntryType[] {
  const segment = (Object.keys(entryTypes) as EntryType[]).filter(
    (type) => value.filter === 'ALL' || entryTypes[type].filter === value.filter,
  );
  return value.types ? segment.filter((t) => value.types!.includes(t)) : segment;
}

/**
 * SQL conditions on entries aliased `h` for everything but the type, with their parameters
 * numbered from `firstParam`.
 */
export function filterConditions(value: ActivityFilterValue, firstParam: number): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (n: string) => string, param: unknown) => {
    params.push(param);
    parts.push(sql(`$${firstParam + params.length - 1}`));
  };
  if (value.category !== undefined) add((n) => `h.category = ${n}`, value.category);
  if (value.source?.kind !== undefined) add((n) => `h.source_kind = ${n}`, value.source.kind);
  if (value.source?.id !== undefined) add((n) => `h.source_id = ${n}`, value.source.id);
  if (value.from !== undefined) add((n) => `h.created_at >= ${n}::timestamptz`, value.from.toISOString());
  if (value.to !== undefined) add((n) => `h.created_at < ${n}::timestamptz`, value.to.toISOString());
  return { sql: parts.map((p) => ` AND ${p}`).join(''), params };
}

/** A short fingerprint of an account's filter: a cursor made under another filter is not reused. */
export function filterKey(accountId: string, value: ActivityFilterValue): string {
  const normal = JSON.stringify([
    accountId,
    value.filter,
    value.types ? [...value.types].sort() : null,
    value.category ?? null,
    value.source?.kind ?? null,
    value.source?.id ?? null,
    value.from?.toISOString() ?? null,
    value.to?.toISOString() ?? null,
  ]);
  return createHash('sha256').update(normal).digest('base64url').slice(0, 12);
}
