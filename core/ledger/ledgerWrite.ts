import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { enqueueWrite } from './writeQueue.js';
import type { LedgerWriteSpec, WriteResult } from './writeSpec.js';

export { requestHashOf, type LedgerWriteSpec, type Tx, type WriteResult } from './writeSpec.js';

/**
 * The one way credits move. Read the account's state, stage the operation, and write all of it
 * in one statement that only applies if no other write landed on the account in between (its
 * sequence number is unchanged) and the operation's key is unused: two round trips, no lock held
 * across them. An account this process wrote or read lately starts from how it then stood instead
 * of a read (knownAccounts.ts): one round trip. If another process did write, try again from a read,
 * and if it wrote once more, redo it holding the account's row lock, where it cannot miss
 * (writeAttempt.ts). Writes waiting meanwhile go together as one group (writeQueue.ts).
 */
export async function ledgerWrite(ctx: CoreContext, spec: LedgerWriteSpec): Promise<WriteResult> {
  if (!ctx.observer) return enqueueWrite(ctx, spec);
  const started = performance.now();
  try {
    const result = await enqueueWrite(ctx, spec);
    ctx.observer.ledgerWrite?.(spec.operation, result.replayed ? 'replayed' : 'written', (performance.now() - started) / 1000);
    if (!result.replayed) ctx.observer.entriesWritten?.(spec.accountId, result);
    return result;
  } catch (error) {
    const outcome = error instanceof CreditkeeperError ? error.code : 'INTERNAL';
    ctx.observer.ledgerWrite?.(spec.operation, outcome, (performance.now() - started) / 1000);
    throw error;
  }
}
