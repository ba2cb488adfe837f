import { randomUUID } from 'node:crypto';
import type { EntryType } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { type Actor, maxCredits, type Origin } from '../input.js';
import { AccountBuckets, type BucketState, bucketLabel, compareDrawdown } from './accountBuckets.js';
import type { StagedEntry } from './entryView.js';
import type { AuditDraft, DepositDraft, DepositSettlement, EntryDraft } from './ledgerDrafts.js';

/**
 * One account's ledger for one write (or several queued, each undoable alone): nothing reaches the database
 * until its changes() are flushed, in one statement (flushStatement.ts).
 */

/**
 * An account as a write starts from it, read or as this process last saw it (knownAccounts.ts). `seenAt` keeps
 * the next write's time from going back before it (null when just read); late usage cannot precede `openedAt`.
 */
export interface AccountSnapshot {
  id: string;
  balance: bigint;
  outstanding: bigint;
  lastSeq: bigint;
  openedAt: Date;
  /** Buckets with credit left. */
  buckets: BucketState[];
  lastEntry: LastEntry | null;
  seenAt: Date | null;
}

/** The account's newest entry, as far as usage grouping needs it. */
export interface LastEntry {
  type: EntryType;
  category: string | null;
  sourceKind: string | null;
  sourceId: string | null;
  groupSeq: bigint;
  groupStartedAt: Date;
  /** Usage reported late (occurredAt): nothing joins its row. */
  late: boolean;
}

/** Everything a write changed on its account, as its flush writes it. */
export interface LedgerChanges {
  accountId: string;
  now: Date;
  /** The sequence the write started from: the flush applies only if the account is still there. */
  startSeq: bigint;
  lastSeq: bigint;
  balance: bigint;
  outstanding: bigint;
  entries: readonly StagedEntry[];
  /** Buckets opened or drawn on. */
  buckets: BucketState[];
  newDeposits: readonly DepositDraft[];
  settledDeposits: readonly DepositSettlement[];
  audit: readonly AuditDraft[];
}

/** Where an operation began: enough to undo everything it staged. */
interface Mark {
  balance: bigint;
  outstanding: bigint;
  seq: bigint;
  entries: number;
  newDeposits: number;
  settledDeposits: number;
  auditRows: number;
  lastEntry: LastEntry | null;
  buckets: Map<string, { remaining: bigint; changed: boolean }>;
}

const systemActor: Actor = { kind: 'SYSTEM' };

/**
 * As large as the largest single amount, so one maximal purchase fills an empty account, and about 9,223 times
 * inside the 64-bit columns, so no sum the ledger keeps can overflow.
 */
export const maxBalance = maxCredits;

export class AccountLedger extends AccountBuckets {
  readonly accountId: string;
  readonly openedAt: Date;
  readonly entries: StagedEntry[] = [];
  readonly newDeposits: DepositDraft[] = [];
  readonly settledDeposits: DepositSettlement[] = [];
  private readonly auditRows: AuditDraft[] = [];
  private balance: bigint;
  private outstanding: bigint;
  private seq: bigint;
  private lastEntry: LastEntry | null;
  private readonly startSeq: bigint;
  private operationKey = '';
  private requestHash = '';

  /** Stages on `account` at `now`; the ledger changes the snapshot's buckets as it draws on them. */
  constructor(account: AccountSnapshot, now: Date, private readonly usageGroupWindowMs: number) {
    super(account.buckets, now);
    this.accountId = account.id;
    this.openedAt = account.openedAt;
    this.balance = account.balance;
    this.outstanding = account.outstanding;
    this.seq = account.lastSeq;
    this.startSeq = account.lastSeq;
    this.lastEntry = account.lastEntry;
  }

  /** The account as this write leaves it once its flush lands (as read, if it staged nothing): where the next may start. */
  snapshot(): AccountSnapshot {
    return {
      id: this.accountId,
      balance: this.balance,
      outstanding: this.outstanding,
      lastSeq: this.seq,
      openedAt: this.openedAt,
      buckets: [...this.buckets.values()].filter((b) => b.remaining > 0n).map((b) => ({ ...b, isNew: false, changed: false })),
      lastEntry: this.lastEntry,
      seenAt: this.now,
    };
  }

  get state(): { balance: bigint; outstanding: bigint } {
    return { balance: this.balance, outstanding: this.outstanding };
  }

  changes(): LedgerChanges {
    return {
      accountId: this.accountId,
      now: this.now,
      startSeq: this.startSeq,
      lastSeq: this.seq,
      balance: this.balance,
      outstanding: this.outstanding,
      entries: this.entries,
      buckets: [...this.buckets.values()].filter((b) => b.changed),
      newDeposits: this.newDeposits,
      settledDeposits: this.settledDeposits,
      audit: this.auditRows,
    };
  }

  /** Starts an operation: its entries carry its key, and `rollback` can undo it alone. */
  begin(operationKey: string, requestHash: string): Mark {
    this.operationKey = operationKey;
    this.requestHash = requestHash;
    return {
      balance: this.balance,
      outstanding: this.outstanding,
      seq: this.seq,
      entries: this.entries.length,
      newDeposits: this.newDeposits.length,
      settledDeposits: this.settledDeposits.length,
      auditRows: this.auditRows.length,
      lastEntry: this.lastEntry,
      buckets: new Map([...this.buckets].map(([id, b]) => [id, { remaining: b.remaining, changed: b.changed }])),
    };
  }

  /** Undoes everything staged since `mark`, as if the operation had never run. */
  rollback(mark: Mark): void {
    this.balance = mark.balance;
    this.outstanding = mark.outstanding;
    this.seq = mark.seq;
    this.entries.length = mark.entries;
    this.newDeposits.length = mark.newDeposits;
    this.settledDeposits.length = mark.settledDeposits;
    this.auditRows.length = mark.auditRows;
    this.lastEntry = mark.lastEntry;
    for (const [id, bucket] of this.buckets) {
      const before = mark.buckets.get(id);
      if (!before) this.buckets.delete(id);
      else Object.assign(bucket, before);
    }
  }

  /** The entries staged since `mark`. */
  entriesSince(mark: Mark): StagedEntry[] {
    return this.entries.slice(mark.entries);
  }

  post(draft: EntryDraft): StagedEntry {
    const amount = draft.movements.reduce((sum, m) => sum + m.amount, 0n);
    if (amount > 0n && this.balance + amount > maxBalance && !draft.alreadyCharged) {
      throw new CreditkeeperError('BALANCE_LIMIT_EXCEEDED', `This would take the balance to ${this.balance + amount}; an account holds at most ${maxBalance} credits`, {
        balance: this.balance.toString(),
        amount: amount.toString(),
        maxBalance: maxBalance.toString(),
      });
    }
    this.balance += amount;
    this.outstanding += draft.outstandingDelta ?? 0n;
    this.seq += 1n;
    const groupSeq = this.usageGroupFor(draft) ?? this.seq;
    const entry = this.stagedEntry(draft, amount, groupSeq);
    this.entries.push(entry);
    this.lastEntry = {
      type: entry.type,
      category: entry.category,
      sourceKind: entry.source.kind ?? null,
      sourceId: entry.source.id ?? null,
      groupSeq,
      groupStartedAt: groupSeq === entry.seq ? this.now : this.lastEntry!.groupStartedAt,
      late: entry.occurredAt !== null,
    };
    return entry;
  }

  /** The draft as the entry at the account's next seq, after its amount moved the balance. */
  private stagedEntry(draft: EntryDraft, amount: bigint, groupSeq: bigint): StagedEntry {
    const idempotencyKey = draft.idempotencyKey ?? this.operationKey;
    return {
      id: randomUUID(),
      seq: this.seq,
      type: draft.type,
      category: draft.category ?? null,
      action: draft.action ?? null,
      quantity: draft.quantity ?? null,
      description: draft.description,
      amount,
      balanceAfter: this.balance,
      outstandingAfter: this.outstanding,
      originalAmount: draft.originalAmount ?? null,
      discountPercent: draft.discountPercent ?? null,
      source: draft.source ?? {},
      actor: { kind: draft.actor.kind, id: draft.actor.id ?? null },
      note: draft.note ?? null,
      idempotencyKey,
      correctsId: draft.correctsId ?? null,
      groupSeq,
      occurredAt: draft.occurredAt ?? null,
      requestHash: idempotencyKey === this.operationKey ? this.requestHash : '',
      movements: draft.movements.filter((m) => m.amount !== 0n),
    };
  }

  /**
   * Close-together usage of the same category and source joins one activity row; anything between them starts a
   * new row, so each row's balance after holds. Late usage is a row of its own, to say when it happened.
   */
  private usageGroupFor(draft: EntryDraft): bigint | undefined {
    const last = this.lastEntry;
    if (draft.type !== 'USAGE' || draft.occurredAt || last?.type !== 'USAGE' || last.late) return undefined;
    const sameActivity =
      last.category === (draft.category ?? null) &&
      last.sourceKind === (draft.source?.kind ?? null) &&
      last.sourceId === (draft.source?.id ?? null);
    const withinWindow = this.now.getTime() - last.groupStartedAt.getTime() < this.usageGroupWindowMs;
    return sameActivity && withinWindow ? last.groupSeq : undefined;
  }

  /**
   * Expired credits leave the balance with an entry that says so. Runs before every write,
   * so a balance is never built on credits that could no longer be spent.
   */
  sweepExpired(): void {
    const expired = [...this.buckets.values()].filter((b) => b.remaining > 0n && this.isExpired(b)).sort(compareDrawdown);
    for (const bucket of expired) this.expire(bucket, bucket.remaining, `expiry#${bucket.id}`);
  }

  /** Takes `amount` of a bucket's credits out of the balance for good, with an entry that says how many. */
  expire(bucket: BucketState, amount: bigint, idempotencyKey: string): StagedEntry {
    return this.post({
      type: 'EXPIRY',
      description: `${amount} unused ${bucketLabel(bucket.kind)} credits expired`,
      movements: [this.take(bucket, amount)],
      actor: systemActor,
      idempotencyKey,
    });
  }

  /** Credits owed are paid first from whatever the account can spend (the outstanding balance). */
  settleOutstanding(): void {
    if (this.outstanding === 0n) return;
    const { movements, taken } = this.drawUpTo(this.outstanding);
    if (taken === 0n) return;
    this.post({
      type: 'OUTSTANDING_SETTLEMENT',
      description: `${taken} credits paid toward the outstanding balance`,
      movements,
      outstandingDelta: -taken,
      actor: systemActor,
      idempotencyKey: `${this.operationKey}#settle`,
    });
  }

  /** Records a staff action in the audit log, in the same statement as the entries it wrote. */
  audit(action: string, actor: Actor, origin: Origin | undefined, mark: Mark): void {
    const own = this.entriesSince(mark);
    this.auditRows.push({
      action,
      actor,
      origin,
      entryId: own[0]?.id ?? null,
      reason: own[0]?.note ?? null,
      details: {
        entries: own.map((e) => ({ id: e.id, seq: e.seq.toString(), type: e.type, amount: e.amount.toString() })),
        balanceAfter: this.balance.toString(),
      },
    });
  }
}
