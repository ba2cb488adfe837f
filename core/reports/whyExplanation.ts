import type { AutoReloadCharge } from '../billing/autoReloadCharges.js';
import type { ActorKind, BucketKind, EntryType } from '../db/generated/enums.js';

/** One line of the explanation: every entry since the start falls in exactly one. */
export interface WhyGroup {
  type: EntryType;
  label: string;
  /** Usage is split by category and price-list action ("Image generation", "reroll"). */
  category: string | null;
  action: string | null;
  count: number;
  quantity: number | null;
  amount: bigint;
}

export interface WhyNote {
  entryId: string;
  at: Date;
  /** When usage reported late happened; null: at `at`. */
  occurredAt: Date | null;
  type: EntryType;
  amount: bigint;
  note: string | null;
  actor: { kind: ActorKind; id: string | null };
}

/** What people asking "where did my credits go?" commonly miss, when it applies. */
export type WhyFinding =
  | { kind: 'IN_FLIGHT_DEPOSITS'; count: number; amount: bigint }
  | { kind: 'PLAN_RESET'; amount: bigint; bucketKinds: BucketKind[] }
  | { kind: 'PURCHASED_UNTOUCHED'; remaining: bigint }
  | { kind: 'AUTO_RELOAD'; count: number; amount: bigint }
  /** Auto-reload charges whose outcome is not known yet: credited once the host confirms them. */
  | { kind: 'AUTO_RELOAD_UNSETTLED'; count: number; amount: bigint; charges: AutoReloadCharge[] }
  | { kind: 'ADMIN_ADJUSTMENT'; notes: WhyNote[] }
  | { kind: 'REROLL_BATCH'; count: number; amount: bigint }
  | { kind: 'OUTSTANDING'; amount: bigint };

export interface WhyAttribution {
  bySource: { kind: string | null; id: string | null; label: string | null; count: number; amount: bigint }[];
  byActor: { kind: ActorKind; id: string | null; count: number; amount: bigint }[];
}

export type WhyGap =
  | { kind: 'MATCHES' }
  /** The balance was exactly what the user expected after `entry`; the entries since explain the rest. */
  | { kind: 'WAS_EXPECTED_AFTER'; entry: WhyNote & { balanceAfter: bigint }; since: WhyGroup[]; change: bigint }
  /** One entry moved exactly the difference. */
  | { kind: 'ONE_ENTRY'; entry: WhyNote & { description: string } }
  /** Neither: the biggest movements in the direction of the difference since the start. */
  | { kind: 'LARGEST_MOVEMENTS'; entries: (WhyNote & { description: string })[] };

export interface WhyExplanation {
  accountId: string;
  start: {
    reason: 'LAST_GRANT' | 'SINCE' | 'ACCOUNT_OPENED';
    at: Date | null;
    /** The balance just before the first entry counted. */
    balance: bigint;
    /** The grant the explanation starts at (reason LAST_GRANT). */
    grant: { entryId: string; type: EntryType; label: string; amount: bigint } | null;
  };
  end: { at: Date; balance: bigint; outstanding: bigint };
  groups: WhyGroup[];
  entriesCounted: number;
  /** The sum of the groups: always end.balance − start.balance (addsUp says so). */
  total: bigint;
  addsUp: boolean;
  findings: WhyFinding[];
  /** For an organisation's or client's pooled balance: where the usage went. */
  attribution: WhyAttribution | null;
  gap: ({ expected: bigint; difference: bigint } & WhyGap) | null;
}
