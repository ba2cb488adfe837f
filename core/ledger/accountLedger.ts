import { randomUUID } from 'node:crypto';
import type { ActorKind, BucketKind, EntryType } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import { type Actor, maxCredits, type Origin, type Source } from '../input.js';
import { entryTypes } from './entryTypes.js';
import type { FlushPart } from './writeStatements.js';

/**
 * One account's ledger for one write: the account, its buckets with credit left, and the entries
 * staged by the operations of the write (one, or several queued on a busy account, each begun
 * with `begin` and undone with `rollback` if it fails). Nothing reaches the database until
 * `toFlush()` is written by ledgerWrite, in a single statement.
 */

export interface BucketState {
  id: string;
  kind: BucketKind;
  granted: bigint;
  remaining: bigint;
  priority: number;
  expiresAt: Date | null;
  createdAt: Date;
  isNew: boolean;
  changed: boolean;
}

export interface MovementState {
  bucketId: string;
  amount: bigint;
}

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
  /** Defaults to the operation's own key. */
  idempotencyKey?: string;
  /**
   * The card was already charged for these credits (an auto-reload top-up, whose reservation
   * checked the room): they land even past the maximum balance rather than keep money taken.
   */
  alreadyCharged?: boolean;
}

export interface StagedEntry {
  id: string;
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
  /** Set on an operation's own entry: what makes a retry "the same request". */
  requestHash: string;
  movements: MovementState[];
}

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

/**
 * An account as a write starts from it: read from the database, or as this process last saw it
 * (core/ledger/knownAccounts.ts). `seenAt`: when this process last read or wrote it, so the next
 * write's time does not go back before it (null when just read).
 */
export interface AccountSnapshot {
  id: string;
  balance: bigint;
  outstanding: bigint;
  lastSeq: bigint;
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
}

const systemActor: Actor = { kind: 'SYSTEM' };

/**
 * The most credits an account may hold: the largest single amount (AMOUNT_OUT_OF_RANGE), so one
 * maximal purchase fills an empty account, and far inside the 64-bit columns (about 9,223 times
 * over), so no sum the ledger keeps can overflow. Every bucket holds part of the balance, so none
 * passes it either.
 */
export const maxBalance = maxCredits;

export function compareDrawdown(a: BucketState, b: BucketState): number {
  const aExp = a.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  const bExp = b.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  if (aExp !== bExp) return aExp < bExp ? -1 : 1;
  if (a.priority !== b.priority) return a.priority - b.priority;
  const created = a.createdAt.getTime() - b.createdAt.getTime();
  if (created !== 0) return created;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Where an operation began: enough to undo everything it staged. */
export interface Mark {
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

export class AccountLedger {
  readonly accountId: string;
  readonly now: Date;
  readonly entries: StagedEntry[] = [];
  readonly newDeposits: DepositDraft[] = [];
  readonly settledDeposits: DepositSettlement[] = [];
  private readonly auditRows: object[] = [];
  private balance: bigint;
  private outstanding: bigint;
  private seq: bigint;
  private lastEntry: LastEntry | null;
  /** The sequence the write started from: the flush applies only if the account is still there. */
  private readonly startSeq: bigint;
  private readonly buckets = new Map<string, BucketState>();
  private operationKey = '';
  private requestHash = '';

  /** Stages on `account` at `now`; the ledger changes the snapshot's buckets as it draws on them. */
  constructor(account: AccountSnapshot, now: Date, private readonly usageGroupWindowMs: number) {
    this.accountId = account.id;
    this.now = now;
    this.balance = account.balance;
    this.outstanding = account.outstanding;
    this.seq = account.lastSeq;
    this.startSeq = account.lastSeq;
    this.lastEntry = account.lastEntry;
    for (const bucket of account.buckets) this.buckets.set(bucket.id, bucket);
  }

  /** The account as this write leaves it once its flush lands (as read, if it staged nothing): where the next may start. */
  snapshot(): AccountSnapshot {
    return {
      id: this.accountId,
      balance: this.balance,
      outstanding: this.outstanding,
      lastSeq: this.seq,
      buckets: [...this.buckets.values()].filter((b) => b.remaining > 0n).map((b) => ({ ...b, isNew: false, changed: false })),
      lastEntry: this.lastEntry,
      seenAt: this.now,
    };
  }

  get state(): { balance: bigint; outstanding: bigint } {
    return { balance: this.balance, outstanding: this.outstanding };
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

  /** Buckets that may be spent now, in drawdown order. An expired bucket is never spendable. */
  spendable(): BucketState[] {
    return [...this.buckets.values()]
      .filter((b) => b.remaining > 0n && !this.isExpired(b))
      .sort(compareDrawdown);
  }

  available(): bigint {
    return this.spendable().reduce((sum, b) => sum + b.remaining, 0n);
  }

  /** Buckets of these kinds with credits that may still be spent, in drawdown order. */
  live(kinds: readonly BucketKind[]): BucketState[] {
    return this.spendable().filter((b) => kinds.includes(b.kind));
  }

  bucket(id: string): BucketState | undefined {
    return this.buckets.get(id);
  }

  isExpired(bucket: Pick<BucketState, 'expiresAt'>): boolean {
    return bucket.expiresAt !== null && bucket.expiresAt.getTime() <= this.now.getTime();
  }

  /** Takes `amount` in drawdown order (optionally from `first` before the rest), or fails writing nothing. */
  draw(amount: bigint, first?: string): MovementState[] {
    const { movements, taken } = this.drawUpTo(amount, first);
    if (taken < amount) {
      throw new CreditkeeperError('INSUFFICIENT_CREDITS', `This needs ${amount} credits; ${taken} are available`, {
        required: amount.toString(),
        available: taken.toString(),
      });
    }
    return movements;
  }

  /** Takes as much of `amount` as the spendable buckets hold. */
  drawUpTo(amount: bigint, first?: string): { movements: MovementState[]; taken: bigint } {
    const order = this.spendable();
    const preferred = first ? order.findIndex((b) => b.id === first) : -1;
    if (preferred > 0) order.unshift(...order.splice(preferred, 1));
    const movements: MovementState[] = [];
    let left = amount;
    for (const bucket of order) {
      if (left === 0n) break;
      const take = bucket.remaining < left ? bucket.remaining : left;
      bucket.remaining -= take;
      bucket.changed = true;
      left -= take;
      movements.push({ bucketId: bucket.id, amount: -take });
    }
    return { movements, taken: amount - left };
  }

  /** Puts credits back into a bucket they came from. */
  returnTo(bucketId: string, amount: bigint): MovementState {
    const bucket = this.buckets.get(bucketId);
    if (!bucket) throw new Error(`bucket ${bucketId} is not loaded`);
    bucket.remaining += amount;
    bucket.changed = true;
    return { bucketId, amount };
  }

  /** Opens a new bucket holding `amount` and returns the movement that fills it. */
  addBucket(kind: BucketKind, amount: bigint, expiresAt: Date | null, priority: number): MovementState {
    const bucket: BucketState = {
      id: randomUUID(),
      kind,
      granted: amount,
      remaining: amount,
      priority,
      expiresAt,
      createdAt: this.now,
      isNew: true,
      changed: true,
    };
    this.buckets.set(bucket.id, bucket);
    return { bucketId: bucket.id, amount };
  }

  /** Loads a bucket that has nothing left (so credits can be returned to it). */
  adopt(bucket: BucketState): void {
    if (!this.buckets.has(bucket.id)) this.buckets.set(bucket.id, bucket);
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
    const entry: StagedEntry = {
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
      actorKind: draft.actor.kind,
      actorId: draft.actor.id ?? null,
      note: draft.note ?? null,
      idempotencyKey: draft.idempotencyKey ?? this.operationKey,
      correctsId: draft.correctsId ?? null,
      groupSeq,
      requestHash: (draft.idempotencyKey ?? this.operationKey) === this.operationKey ? this.requestHash : '',
      movements: draft.movements.filter((m) => m.amount !== 0n),
    };
    this.entries.push(entry);
    this.lastEntry = {
      type: entry.type,
      category: entry.category,
      sourceKind: entry.source.kind ?? null,
      sourceId: entry.source.id ?? null,
      groupSeq,
      groupStartedAt: groupSeq === entry.seq ? this.now : this.lastEntry!.groupStartedAt,
    };
    return entry;
  }

  /**
   * Seed 003: usage of the same activity and source, close together in time, shows as one row.
   * A usage entry joins the group of the entry just before it when that is usage of the same
   * category and source and the group started less than the window ago; anything else between
   * them (a grant, a refund, other usage) starts a new row, so each row's balance after holds.
   */
  private usageGroupFor(draft: EntryDraft): bigint | undefined {
    const last = this.lastEntry;
    if (draft.type !== 'USAGE' || last?.type !== 'USAGE') return undefined;
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

  /** Takes `amount` from one bucket (for an entry that names where its credits come from). */
  take(bucket: BucketState, amount: bigint): MovementState {
    bucket.remaining -= amount;
    bucket.changed = true;
    return { bucketId: bucket.id, amount: -amount };
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

  /** Credits owed are paid first from whatever the account can spend (seed 002: outstanding balance). */
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
      account_id: this.accountId,
      actor_kind: actor.kind,
      actor_id: actor.id ?? null,
      action,
      entry_id: own[0]?.id ?? null,
      reason: own[0]?.note ?? null,
      origin: origin ?? null,
      details: {
        entries: own.map((e) => ({ id: e.id, seq: e.seq.toString(), type: e.type, amount: e.amount.toString() })),
        balanceAfter: this.balance.toString(),
      },
    });
  }

  /**
   * Every change of this write as rows for the flush statement, each naming its account: the
   * flush writes several accounts' changes at once, and each account's rows only if the account
   * is still at the sequence this write read (`expected_seq`).
   */
  toFlush(): FlushPayload {
    const account_id = this.accountId;
    const buckets = [...this.buckets.values()].filter((b) => b.changed);
    let used = 0n;
    let added = 0n;
    let usageCount = 0;
    for (const entry of this.entries) {
      const kind = entryTypes[entry.type].class;
      if (kind === 'usage' || kind === 'usageCorrection') used -= entry.amount;
      if (kind === 'usage') usageCount += 1;
      if (kind === 'addition') added += entry.amount;
    }
    return {
      account: {
        id: account_id,
        expected_seq: this.startSeq.toString(),
        keys: this.entries.map((e) => e.idempotencyKey),
        balance: this.balance.toString(),
        outstanding: this.outstanding.toString(),
        last_seq: this.seq.toString(),
        now: this.now.toISOString(),
        used: used.toString(),
        added: added.toString(),
        usage_count: usageCount,
        entry_count: this.entries.length,
      },
      new_buckets: buckets
        .filter((b) => b.isNew)
        .map((b) => ({
          account_id,
          id: b.id,
          kind: b.kind,
          granted: b.granted.toString(),
          remaining: b.remaining.toString(),
          priority: b.priority,
          expires_at: b.expiresAt?.toISOString() ?? null,
        })),
      bucket_updates: buckets.filter((b) => !b.isNew).map((b) => ({ account_id, id: b.id, remaining: b.remaining.toString() })),
      entries: this.entries.map((e) => ({
        account_id,
        id: e.id,
        seq: e.seq.toString(),
        type: e.type,
        category: e.category,
        action: e.action,
        quantity: e.quantity,
        description: e.description,
        amount: e.amount.toString(),
        balance_after: e.balanceAfter.toString(),
        outstanding_after: e.outstandingAfter.toString(),
        original_amount: e.originalAmount?.toString() ?? null,
        discount_percent: e.discountPercent,
        source_kind: e.source.kind ?? null,
        source_id: e.source.id ?? null,
        source_label: e.source.label ?? null,
        source_url: e.source.url ?? null,
        actor_kind: e.actorKind,
        actor_id: e.actorId,
        note: e.note,
        idempotency_key: e.idempotencyKey,
        request_hash: e.requestHash,
        corrects_id: e.correctsId,
        group_seq: e.groupSeq.toString(),
      })),
      movements: this.entries.flatMap((e) =>
        e.movements.map((m) => ({ account_id, entry_id: e.id, bucket_id: m.bucketId, amount: m.amount.toString() })),
      ),
      new_deposits: this.newDeposits.map((d) => ({
        account_id,
        id: d.id,
        entry_id: d.entryId,
        charged: d.charged.toString(),
        held: d.held.toString(),
        action: d.action,
      })),
      settled_deposits: this.settledDeposits.map((d) => ({
        account_id,
        id: d.id,
        status: d.status,
        settled_entry_id: d.settledEntryId,
        actual_amount: d.actualAmount?.toString() ?? null,
      })),
      audit: this.auditRows,
    };
  }
}

/** One account's part of a flush; each part's rows are concatenated across the accounts flushed together. */
export type FlushPayload = Record<FlushPart, object[]> & {
  account: {
    id: string;
    expected_seq: string;
    /** Every key its entries carry: none may have been used on the account before. */
    keys: string[];
    balance: string;
    outstanding: string;
    last_seq: string;
    now: string;
    /** This write's contribution to the account's usage rollup for `now`'s quarter hour. */
    used: string;
    added: string;
    usage_count: number;
    entry_count: number;
  };
};

export function bucketLabel(kind: BucketKind): string {
  return { PLAN: 'plan', WEEKLY: 'weekly', PURCHASED: 'purchased', BONUS: 'bonus', REWARD: 'reward', PROMO: 'promo' }[kind];
}
