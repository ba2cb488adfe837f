import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput, uuid } from '../input.js';
import { type EntryRow, type EntryView, entryColumns, toEntryView } from '../ledger/entryView.js';

export const activityGroupInput = z.strictObject({
  accountId: uuid,
  /** The row's seq, from the activity page. */
  seq: z.union([z.bigint(), z.number().int(), z.string().regex(/^\d{1,19}$/)]).transform((v) => BigInt(v)),
});

/** Expands one activity row into the entries it stands for, oldest first. */
export async function getActivityGroup(ctx: CoreContext, input: z.input<typeof activityGroupInput>): Promise<EntryView[]> {
  const { accountId, seq } = parseInput(activityGroupInput, input);
  const rows = await ctx.db.sql.query<EntryRow>(
    `SELECT ${entryColumns} FROM entries e WHERE e.account_id = $1::uuid AND e.group_seq = $2::bigint ORDER BY e.seq`,
    [accountId, seq.toString()],
  );
  if (rows.length === 0 || BigInt(rows[0]!.seq) !== seq) {
    throw new CreditkeeperError('ENTRY_NOT_FOUND', `No activity row ${seq} on this account`, { seq: seq.toString() });
  }
  return rows.map(toEntryView);
}
