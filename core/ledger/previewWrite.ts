import type { CoreContext } from '../context.js';
import type { BucketKind } from '../db/generated/enums.js';
import { CreditkeeperError, isCreditkeeperError } from '../errors.js';
import { AccountLedger } from './accountLedger.js';
import { readAccountStates, toSnapshot, writeTime } from './accountState.js';
import { type EntryView, stagedEntryView } from './entryView.js';
import { DatabaseClock } from './knownAccounts.js';
import { defaultUsageGroupWindowMs } from './writeAttempt.js';
import type { LedgerWriteSpec } from './writeSpec.js';

/** One bucket a previewed write would draw from (negative) or add to. */
export interface BucketMove {
  bucketId: string;
  kind: BucketKind;
  amount: bigint;
  expiresAt: Date | null;
}

export interface WritePreview {
  /** The account as read, its expired credits swept: what the write would start from. */
  before: { balance: bigint; outstanding: bigint };
  /** What the write would leave, or the refusal it would get. */
  outcome: { entries: EntryView[]; balance: bigint; outstanding: bigint; buckets: BucketMove[] } | { refused: CreditkeeperError };
}

/**
 * Stages the write exactly as a write would (expiries swept, outstanding settled), so a quote cannot disagree with
 * the write, then throws it away. One read: a write landing meanwhile changes both alike.
 */
export async function previewWrite(ctx: CoreContext, accountId: string, write: LedgerWriteSpec['write']): Promise<WritePreview> {
  const states = await readAccountStates(ctx.db.sql, [{ id: accountId, keys: [] }], new DatabaseClock());
  const state = states.get(accountId);
  if (!state) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${accountId}`);
  const ledger = new AccountLedger(toSnapshot(accountId, state), writeTime(state), ctx.usageGroupWindowMs ?? defaultUsageGroupWindowMs);
  ledger.sweepExpired();
  const before = ledger.state;
  const mark = ledger.begin('preview', '');
  try {
    await write(ledger, ctx.db.sql);
  } catch (error) {
    if (isCreditkeeperError(error)) return { before, outcome: { refused: error } };
    throw error;
  }
  ledger.settleOutstanding();
  const entries = ledger.entriesSince(mark);
  const moved = new Map<string, bigint>();
  for (const entry of entries) for (const m of entry.movements) moved.set(m.bucketId, (moved.get(m.bucketId) ?? 0n) + m.amount);
  return {
    before,
    outcome: {
      entries: entries.map((e) => stagedEntryView(e, accountId, ledger.now)),
      ...ledger.state,
      buckets: [...moved].map(([bucketId, amount]) => {
        const bucket = ledger.bucket(bucketId)!;
        return { bucketId, kind: bucket.kind, amount, expiresAt: bucket.expiresAt };
      }),
    },
  };
}
