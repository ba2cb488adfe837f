import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { enqueueWrite } from './writeQueue.js';
import type { LedgerWriteSpec, WriteResult } from './writeSpec.js';

export { requestHashOf, type LedgerWriteSpec, type Tx, type WriteResult } from './writeSpec.js';

/**
 * The one way credits move: stage on the account as read (or known), flush in one statement guarded by its
 * seq and its keys, redone if another write landed (README, Guarantees; writeAttempt.ts, writeQueue.ts).
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
