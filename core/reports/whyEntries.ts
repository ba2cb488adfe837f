import type { ActorKind, EntryType } from '../db/generated/enums.js';
import type { WhyNote } from './whyExplanation.js';

/** How many notes, sources or actors /why lists at most. */
export const listLimit = 10;

/**
 * The newest entries of some types from seq $2 on: one range of the activity-row index per type, so a rare
 * entry among a million usage entries is found without walking them.
 */
export function newestOfTypes(types: EntryType[], columns: string, limit: number): string {
  return types
    .map(
      (type) => `(SELECT ${columns} FROM entries WHERE account_id = $1::uuid AND type = '${type}' AND seq = group_seq
         AND seq >= $2::bigint ORDER BY seq DESC LIMIT ${limit})`,
    )
    .join(' UNION ALL ');
}

export interface NoteRow {
  id: string;
  created_at: Date;
  occurred_at: Date | null;
  type: EntryType;
  amount: string;
  note: string | null;
  actor_kind: ActorKind;
  actor_id: string | null;
  description: string;
}

export function toNote(r: NoteRow): WhyNote {
  return {
    entryId: r.id,
    at: new Date(r.created_at),
    occurredAt: r.occurred_at === null ? null : new Date(r.occurred_at),
    type: r.type,
    amount: BigInt(r.amount),
    note: r.note,
    actor: { kind: r.actor_kind, id: r.actor_id },
  };
}
