import type { EntryType } from '../db/generated/enums.js';
import type { Actor, Origin, Source } from '../input.js';
import type { MovementState } from './accountBuckets.js';

/** What an operation asks AccountLedger.post to stage as an entry. */
export interface EntryDraft {
  type: EntryType;
  description: string;
  category?: string | undefined;
  /** The price-list action and units that priced a usage entry. */
  action?: string | undefined;
  quantity?: number | undefined;
  movements: MovementState[];
  /** Change to what the account owes; credits owed are not part of the balance. */
  outstandingDelta?: bigint;
  originalAmount?: bigint | undefined;
  discountPercent?: number | undefined;
  source?: Source | undefined;
  actor: Actor;
  note?: string | undefined;
  correctsId?: string | undefined;
  /** When usage reported late happened (never after the write): it stands alone in the log. */
  occurredAt?: Date | undefined;
  /** Defaults to the operation's own key. */
  idempotencyKey?: string;
  /**
   * The card was already charged for these credits (an auto-reload top-up, whose reservation
   * checked the room): they land even past the maximum balance rather than keep money taken.
   */
  alreadyCharged?: boolean;
}

/** A deposit a submission opens, held until it is reconciled or voided. */
export interface DepositDraft {
  id: string;
  entryId: string;
  charged: bigint;
  held: bigint;
  action: string | null;
}

export interface DepositSettlement {
  id: string;
  status: 'RECONCILED' | 'VOIDED';
  settledEntryId: string;
  actualAmount: bigint | null;
}

/** A staff action recorded in the audit log by the same statement as the entries it wrote. */
export interface AuditDraft {
  action: string;
  actor: Actor;
  origin: Origin | undefined;
  entryId: string | null;
  reason: string | null;
  details: { entries: { id: string; seq: string; type: EntryType; amount: string }[]; balanceAfter: string };
}
