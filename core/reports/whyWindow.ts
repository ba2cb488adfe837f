import type { ActorKind, EntryType } from '../db/generated/enums.js';
import type { SqlSession } from '../db/sqlRunner.js';
import { entryTypes } from '../ledger/entryTypes.js';
import { rollupBlockEntries } from '../ledger/writeStatements.js';
import { listLimit } from './whyEntries.js';
import type { WhyAttribution, WhyGroup } from './whyExplanation.js';

/**
 * Parameters $2–$4 of a window to the log's end: entries up to the first whole block, then the rollups of every
 * block from there (README, How /why stays fast).
 */
export function windowParams(fromSeq: bigint): string[] {
  const block = BigInt(rollupBlockEntries);
  const firstWholeBlock = (fromSeq + block - 1n) / block;
  return [fromSeq.toString(), (firstWholeBlock * block).toString(), firstWholeBlock.toString()];
}

/** Every change from `fromSeq` to the last entry, in groups. */
export async function groupsSince(tx: SqlSession, accountId: string, fromSeq: bigint): Promise<WhyGroup[]> {
  const rows = await tx.query<{
    type: EntryType;
    category: string | null;
    action: string | null;
    count: number;
    quantity: number | null;
    amount: string;
  }>(
    `WITH parts AS (
       SELECT type, category, action, count(*) AS entries, sum(quantity) AS quantity, sum(amount) AS amount
       FROM entries WHERE account_id = $1::uuid AND seq >= $2::bigint AND seq < $3::bigint GROUP BY 1, 2, 3
       UNION ALL
       SELECT type, nullif(category, ''), nullif(action, ''), entries, quantity, amount
       FROM entry_rollups WHERE account_id = $1::uuid AND block >= $4::bigint)
     SELECT type, CASE WHEN type = 'USAGE' THEN category END AS category, CASE WHEN type = 'USAGE' THEN action END AS action,
       sum(entries)::int AS count, sum(quantity)::int AS quantity, sum(amount)::text AS amount
     FROM parts GROUP BY 1, 2, 3 ORDER BY sum(amount), 1, 2, 3`,
    [accountId, ...windowParams(fromSeq)],
  );
  return rows.map((r) => ({
    type: r.type,
    label: r.category ?? entryTypes[r.type].label,
    category: r.category,
    action: r.action,
    count: r.count,
    quantity: r.quantity,
    amount: BigInt(r.amount),
  }));
}

const usageTypes = "('USAGE', 'DEPOSIT', 'DEPOSIT_RECONCILIATION')";

/** A pooled account's usage from `fromSeq` on, by the source and by the actor it went to. */
export async function attribution(tx: SqlSession, accountId: string, fromSeq: bigint): Promise<WhyAttribution> {
  const usage = `WITH parts AS (
       SELECT source_kind, source_id, source_label, actor_kind, actor_id, 1 AS entries, amount FROM entries
       WHERE account_id = $1::uuid AND seq >= $2::bigint AND seq < $3::bigint AND type IN ${usageTypes}
       UNION ALL
       SELECT nullif(source_kind, ''), nullif(source_id, ''), source_label, actor_kind, nullif(actor_id, ''), entries, amount
       FROM entry_rollups WHERE account_id = $1::uuid AND block >= $4::bigint AND type IN ${usageTypes})`;
  const params = [accountId, ...windowParams(fromSeq)];
  // Ties are ordered by the key, so the same history always lists the same ten.
  const bySource = await tx.query<{ kind: string | null; id: string | null; label: string | null; count: number; amount: string }>(
    `${usage} SELECT source_kind AS kind, source_id AS id, max(source_label) AS label, sum(entries)::int AS count, sum(amount)::text AS amount
     FROM parts GROUP BY source_kind, source_id ORDER BY sum(amount), sum(entries) DESC, 1, 2 LIMIT ${listLimit}`,
    params,
  );
  const byActor = await tx.query<{ kind: ActorKind; id: string | null; count: number; amount: string }>(
    `${usage} SELECT actor_kind AS kind, actor_id AS id, sum(entries)::int AS count, sum(amount)::text AS amount
     FROM parts GROUP BY actor_kind, actor_id ORDER BY sum(amount), sum(entries) DESC, 1, 2 LIMIT ${listLimit}`,
    params,
  );
  return {
    bySource: bySource.map((r) => ({ ...r, amount: BigInt(r.amount) })),
    byActor: byActor.map((r) => ({ ...r, amount: BigInt(r.amount) })),
  };
}
