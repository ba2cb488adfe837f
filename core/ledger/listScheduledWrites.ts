import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput, uuid } from '../input.js';
import { type ScheduledRow, scheduledColumns, type ScheduledWriteView, toView } from './scheduledWrites.js';

export const listScheduledWritesInput = z.strictObject({ accountId: uuid });

/** How many pending schedules one answer lists, soonest first. */
export const pendingListLimit = 100;

/**
 * An account's dated grants and purchases still to land, soonest first (the ones that landed are
 * entries now; cancelled and failed ones are in the audit log and answered by their key).
 */
export async function listScheduledWrites(ctx: CoreContext, input: z.input<typeof listScheduledWritesInput>): Promise<{ scheduled: ScheduledWriteView[] }> {
  const { accountId } = parseInput(listScheduledWritesInput, input);
  const [account] = await ctx.db.sql.query<{ id: string }>('SELECT id FROM accounts WHERE id = $1::uuid', [accountId]);
  if (!account) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${accountId}`);
  const rows = await ctx.db.sql.query<ScheduledRow>(
    `SELECT ${scheduledColumns} FROM scheduled_writes
     WHERE account_id = $1::uuid AND landed_at IS NULL AND failure IS NULL AND cancelled_at IS NULL
     ORDER BY effective_at, id LIMIT $2`,
    [accountId, pendingListLimit],
  );
  return { scheduled: rows.map(toView) };
}
