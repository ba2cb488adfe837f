import type { CoreContext } from '../context.js';
import type { EntryType } from '../db/generated/enums.js';
import { entryTypes } from '../ledger/entryTypes.js';

const additionTypes = (Object.keys(entryTypes) as EntryType[]).filter((t) => entryTypes[t].class === 'addition' || t === 'ADJUSTMENT');

/**
 * Credits added since a moment (a period's start) by type, largest first, for the admin page beside the
 * allocation; read from the entries, bounded by the created_at index.
 */
export async function addedSince(ctx: CoreContext, accountId: string, since: Date): Promise<{ type: EntryType; label: string; amount: bigint }[]> {
  const rows = await ctx.db.sql.query<{ type: EntryType; amount: string }>(
    `SELECT type::text AS type, sum(amount)::text AS amount FROM entries
     WHERE account_id = $1::uuid AND created_at >= $2 AND amount > 0 AND type::text = ANY($3::text[])
     GROUP BY type ORDER BY sum(amount) DESC`,
    [accountId, since, additionTypes],
  );
  return rows.map((r) => ({ type: r.type, label: entryTypes[r.type].label, amount: BigInt(r.amount) }));
}
