import type { DepositStatus } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import type { Tx } from './ledgerWrite.js';

export interface InFlightDeposit {
  id: string;
  entryId: string;
  charged: bigint;
  held: bigint;
  action: string | null;
}

/** Reads a deposit of this account inside the write; only an in-flight one may be settled. */
export async function findInFlightDeposit(tx: Tx, accountId: string, depositId: string): Promise<InFlightDeposit> {
  const [row] = await tx.query<{
    id: string;
    entry_id: string;
    charged: string;
    held: string;
    action: string | null;
    status: DepositStatus;
  }>(
    'SELECT id, entry_id, charged::text, held::text, action, status FROM deposits WHERE id = $1::uuid AND account_id = $2::uuid',
    [depositId, accountId],
  );
  if (!row) throw new CreditkeeperError('DEPOSIT_NOT_FOUND', `No deposit ${depositId} on this account`, { depositId });
  if (row.status !== 'IN_FLIGHT') {
    throw new CreditkeeperError('DEPOSIT_ALREADY_SETTLED', `This deposit was already ${row.status.toLowerCase()}`, {
      depositId,
      status: row.status,
    });
  }
  return { id: row.id, entryId: row.entry_id, charged: BigInt(row.charged), held: BigInt(row.held), action: row.action };
}
