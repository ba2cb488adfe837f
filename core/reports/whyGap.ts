import type { SqlSession } from '../db/sqlRunner.js';
import { rollupBlockEntries } from '../ledger/writeStatements.js';
import { type NoteRow, toNote } from './whyEntries.js';
import type { WhyGap } from './whyExplanation.js';
import { groupsSince, windowParams } from './whyWindow.js';

const gapSearchDepth = 10_000;

/** Which entries explain the difference between the balance and the one the user expected. */
export async function explainGap(
  tx: SqlSession,
  accountId: string,
  expected: bigint,
  balance: bigint,
  fromSeq: bigint,
  lastSeq: bigint,
): Promise<WhyGap> {
  if (expected === balance) return { kind: 'MATCHES' };
  const searchFrom = (lastSeq - BigInt(gapSearchDepth) > 0n ? lastSeq - BigInt(gapSearchDepth) : 0n).toString();
  const [was] = await tx.query<NoteRow & { seq: string; balance_after: string }>(
    `SELECT id, seq::text, created_at, occurred_at, type, amount::text, note, actor_kind, actor_id, description, balance_after::text
     FROM entries WHERE account_id = $1::uuid AND seq > $2::bigint AND balance_after = $3::bigint
     ORDER BY seq DESC LIMIT 1`,
    [accountId, searchFrom, expected.toString()],
  );
  if (was) {
    const since = await groupsSince(tx, accountId, BigInt(was.seq) + 1n);
    return {
      kind: 'WAS_EXPECTED_AFTER',
      entry: { ...toNote(was), balanceAfter: BigInt(was.balance_after) },
      since,
      change: since.reduce((sum, g) => sum + g.amount, 0n),
    };
  }
  const difference = balance - expected;
  const [one] = await tx.query<NoteRow>(
    `SELECT id, created_at, occurred_at, type, amount::text, note, actor_kind, actor_id, description FROM entries
     WHERE account_id = $1::uuid AND seq > $2::bigint AND amount = $3::bigint ORDER BY seq DESC LIMIT 1`,
    [accountId, searchFrom, difference.toString()],
  );
  if (one) return { kind: 'ONE_ENTRY', entry: { ...toNote(one), description: one.description } };
  // The five largest entries lie in the first, partial block or in the five whole blocks whose
  // largest entry in that direction is largest (a later block first on a tie, as seq DESC is).
  const largest = await tx.query<NoteRow>(
    `WITH blocks AS (
       SELECT block FROM entry_rollups WHERE account_id = $1::uuid AND block >= $4::bigint GROUP BY block
       HAVING CASE WHEN $5::bigint > 0 THEN max(largest_amount) > 0 ELSE min(smallest_amount) < 0 END
       ORDER BY CASE WHEN $5::bigint > 0 THEN max(largest_amount) ELSE -min(smallest_amount) END DESC, block DESC LIMIT 5),
     ranges AS (SELECT $2::bigint AS low, $3::bigint AS high
                UNION ALL SELECT block * ${rollupBlockEntries}, (block + 1) * ${rollupBlockEntries} FROM blocks)
     SELECT e.id, e.created_at, e.occurred_at, e.type, e.amount::text, e.note, e.actor_kind, e.actor_id, e.description
     FROM ranges CROSS JOIN LATERAL (
       SELECT id, seq, created_at, occurred_at, type, amount, note, actor_kind, actor_id, description FROM entries
       WHERE account_id = $1::uuid AND seq >= ranges.low AND seq < ranges.high
         AND sign(amount) = sign($5::bigint) OFFSET 0) e -- one index range per block, never a scan of the log
     ORDER BY abs(e.amount) DESC, e.seq DESC LIMIT 5`,
    [accountId, ...windowParams(fromSeq), difference.toString()],
  );
  return { kind: 'LARGEST_MOVEMENTS', entries: largest.map((r) => ({ ...toNote(r), description: r.description })) };
}
