import type { DepositStatus } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import type { Source } from '../input.js';
import type { Tx } from './ledgerWrite.js';

export interface InFlightDeposit {
  id: string;
  entryId: string;
  charged: bigint;
  held: bigint;
  action: string | null;
  /** What the submission was for (its creative, project…): its settlement names the same. */
  source: Source;
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
    source_kind: string | null;
    source_id: string | null;
    source_label: string | null;
    source_url: string | null;
  }>(
    `SELECT d.id, d.entry_id, d.charged::text, d.held::text, d.action, d.status, e.source_kind, e.source_id, e.source_label, e.source_url
     FROM deposits d JOIN entries e ON e.account_id = d.account_id AND e.id = d.entry_id WHERE d.id = $1::uuid AND d.account_id = $2::uuid`,
    [depositId, accountId],
  );
  if (!row) throw new CreditkeeperError('DEPOSIT_NOT_FOUND', `No deposit ${depositId} on this account`, { depositId });
  if (row.status !== 'IN_FLIGHT') {
    throw new CreditkeeperError('DEPOSIT_ALREADY_SETTLED', `This deposit was already ${row.status.toLowerCase()}`, {
      depositId,
      status: row.status,
    });
  }
  const source = {
    kind: row.source_kind ?? 'deposit',
    id: row.source_id ?? row.id,
    ...(row.source_label !== null && { label: row.source_label }),
    ...(row.source_url !== null && { url: row.source_url }),
  };
  return { id: row.id, entryId: row.entry_id, charged: BigInt(row.charged), held: BigInt(row.held), action: row.action, source };
}

/** The deposit a submission's entry opened, if any (a replayed spend names it again). */
export async function depositOfEntry(tx: Tx, accountId: string, entryId: string): Promise<string | null> {
  const [row] = await tx.query<{ id: string }>(
    `SELECT id FROM deposits WHERE account_id = $1::uuid AND entry_id = $2::uuid`,
    [accountId, entryId],
  );
  return row?.id ?? null;
}
