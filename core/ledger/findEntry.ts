import type { EntryType } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import type { Tx } from './ledgerWrite.js';

export interface EntryHead {
  id: string;
  type: EntryType;
  amount: bigint;
  category: string | null;
  description: string;
}

/** Reads an entry of this account inside the write, or fails with ENTRY_NOT_FOUND. */
export async function findEntry(tx: Tx, accountId: string, entryId: string): Promise<EntryHead> {
  const [row] = await tx.query<EntryHead>(
    'SELECT id, type, amount, category, description FROM entries WHERE id = $1::uuid AND account_id = $2::uuid',
    [entryId, accountId],
  );
  if (!row) throw new CreditkeeperError('ENTRY_NOT_FOUND', `No entry ${entryId} on this account`, { entryId });
  return { ...row, amount: BigInt(row.amount) };
}
