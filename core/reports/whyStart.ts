import type { EntryType } from '../db/generated/enums.js';
import type { SqlSession } from '../db/sqlRunner.js';
import { entryTypes } from '../ledger/entryTypes.js';
import { newestOfTypes } from './whyEntries.js';
import type { WhyExplanation } from './whyExplanation.js';

export interface StartingPoint {
  reason: WhyExplanation['start']['reason'];
  /** The first entry counted. */
  seq: bigint;
  at: Date | null;
  balance: bigint;
  grant: WhyExplanation['start']['grant'];
}

/** Where the explanation starts: `since`, else the newest plan or weekly grant, else the account's opening. */
export async function startingPoint(tx: SqlSession, accountId: string, since: Date | undefined, lastSeq: bigint): Promise<StartingPoint> {
  let reason: StartingPoint['reason'] = 'ACCOUNT_OPENED';
  let at: Date | null = null;
  let grant: StartingPoint['grant'] = null;
  if (since) {
    reason = 'SINCE';
    at = since;
  } else {
    const [last] = await tx.query<{ id: string; type: EntryType; amount: string; created_at: Date }>(
      `SELECT id, type, amount::text, created_at FROM (${newestOfTypes(['PLAN_GRANT', 'WEEKLY_GRANT'], 'id, seq, type, amount, created_at', 1)}) grants
       ORDER BY seq DESC LIMIT 1`,
      [accountId, '0'],
    );
    if (last) {
      reason = 'LAST_GRANT';
      at = new Date(last.created_at);
      grant = { entryId: last.id, type: last.type, label: entryTypes[last.type].label, amount: BigInt(last.amount) };
    }
  }
  // Entries written with the grant (the reset of the previous period's credits) count with it.
  // Entry times never go back along seq (ledgerWrite's writeTime), so the first entry by time is
  // the one with the lowest seq from then on: one probe of the time index.
  const [first] = await tx.query<{ seq: string | null; balance_before: string | null }>(
    `SELECT f.seq::text, (SELECT balance_after::text FROM entries WHERE account_id = $1::uuid AND seq = f.seq - 1) AS balance_before
     FROM (SELECT seq FROM entries WHERE account_id = $1::uuid AND created_at >= $2::timestamptz ORDER BY created_at, seq LIMIT 1) f`,
    [accountId, (at ?? new Date(0)).toISOString()],
  );
  const seq = first?.seq ? BigInt(first.seq) : lastSeq + 1n;
  const balance = first?.balance_before ? BigInt(first.balance_before) : seq === 1n ? 0n : await balanceAfter(tx, accountId, seq - 1n);
  return { reason, seq, at, balance, grant };
}

async function balanceAfter(tx: SqlSession, accountId: string, seq: bigint): Promise<bigint> {
  const [row] = await tx.query<{ balance_after: string }>(
    'SELECT balance_after::text FROM entries WHERE account_id = $1::uuid AND seq = $2::bigint',
    [accountId, seq.toString()],
  );
  return row ? BigInt(row.balance_after) : 0n;
}
