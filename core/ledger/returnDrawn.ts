import { type BucketState, compareDrawdown, type MovementState } from './accountBuckets.js';
import type { AccountLedger } from './accountLedger.js';
import { type BucketRow, toBucketState } from './accountState.js';
import type { Tx } from './writeSpec.js';

/**
 * What an entry drew from each bucket, less what its corrections already gave back:
 * the credits a refund, deposit reconciliation or void may still return.
 */
export async function drawnAndNotReturned(ledger: AccountLedger, tx: Tx, entryId: string): Promise<Map<string, bigint>> {
  const rows = await tx.query<{ bucket_id: string; net: string }>(
    `SELECT m.bucket_id, (-sum(m.amount))::text AS net
     FROM movements m JOIN entries e ON e.account_id = m.account_id AND e.id = m.entry_id
     WHERE e.account_id = $1::uuid AND (e.id = $2::uuid OR e.corrects_id = $2::uuid)
     GROUP BY m.bucket_id HAVING sum(m.amount) < 0`,
    [ledger.accountId, entryId],
  );
  const missing = rows.map((r) => r.bucket_id).filter((id) => !ledger.bucket(id));
  if (missing.length > 0) {
    const buckets = await tx.query<BucketRow>(
      `SELECT id, kind, granted::text, remaining::text, priority, expires_at, created_at
       FROM buckets WHERE account_id = $1::uuid AND id = ANY($2::uuid[])`,
      [ledger.accountId, missing],
    );
    for (const bucket of buckets) ledger.adopt(toBucketState(bucket));
  }
  return new Map(rows.map((r) => [r.bucket_id, BigInt(r.net)]));
}

/**
 * Gives back what an entry drew, last-drawn bucket first; credits whose bucket expired since come back in a
 * non-expiring bonus bucket, so a refund never hands back credits that vanish on the spot.
 */
export function returnCredits(ledger: AccountLedger, drawn: Map<string, bigint>, amount: bigint): MovementState[] {
  const buckets = [...drawn.keys()]
    .map((id) => ledger.bucket(id))
    .filter((b): b is BucketState => b !== undefined)
    .sort(compareDrawdown)
    .reverse();
  const movements: MovementState[] = [];
  let left = amount;
  let toBonus = 0n;
  for (const bucket of buckets) {
    if (left === 0n) break;
    const give = drawn.get(bucket.id)! < left ? drawn.get(bucket.id)! : left;
    left -= give;
    if (ledger.isExpired(bucket)) toBonus += give;
    else movements.push(ledger.returnTo(bucket.id, give));
  }
  if (toBonus > 0n) movements.push(ledger.addBucket('BONUS', toBonus, null, 50));
  return movements;
}

export function sumDrawn(drawn: Map<string, bigint>): bigint {
  return [...drawn.values()].reduce((sum, v) => sum + v, 0n);
}
