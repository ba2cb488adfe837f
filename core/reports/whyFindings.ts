import { listUnsettledCharges } from '../billing/autoReloadCharges.js';
import type { BucketKind } from '../db/generated/enums.js';
import type { SqlSession } from '../db/sqlRunner.js';
import { listLimit, newestOfTypes, type NoteRow, toNote } from './whyEntries.js';
import type { WhyFinding, WhyGroup } from './whyExplanation.js';

const rerollBatchThreshold = 10;

/** The findings that apply to the account now and to its groups since `fromSeq`. */
export async function findings(
  tx: SqlSession,
  accountId: string,
  fromSeq: bigint,
  groups: WhyGroup[],
  outstanding: bigint,
): Promise<WhyFinding[]> {
  const found: WhyFinding[] = [];
  const [deposits] = await tx.query<{ count: number; amount: string }>(
    `SELECT count(*)::int AS count, coalesce(sum(charged), 0)::text AS amount
     FROM deposits WHERE account_id = $1::uuid AND status = 'IN_FLIGHT'`,
    [accountId],
  );
  if (deposits!.count > 0) found.push({ kind: 'IN_FLIGHT_DEPOSITS', count: deposits!.count, amount: BigInt(deposits!.amount) });

  const resets = await tx.query<{ kind: BucketKind; amount: string }>(
    `SELECT b.kind, sum(m.amount)::text AS amount
     FROM entries e JOIN movements m ON m.account_id = e.account_id AND m.entry_id = e.id
       JOIN buckets b ON b.account_id = m.account_id AND b.id = m.bucket_id
     WHERE e.account_id = $1::uuid AND e.seq >= $2::bigint AND e.type = 'EXPIRY' AND e.seq = e.group_seq
       AND b.kind IN ('PLAN', 'WEEKLY')
     GROUP BY b.kind ORDER BY b.kind`,
    [accountId, fromSeq.toString()],
  );
  if (resets.length > 0) {
    found.push({
      kind: 'PLAN_RESET',
      amount: resets.reduce((sum, r) => sum + BigInt(r.amount), 0n),
      bucketKinds: resets.map((r) => r.kind),
    });
    const [purchased] = await tx.query<{ remaining: string }>(
      `SELECT coalesce(sum(remaining), 0)::text AS remaining FROM buckets WHERE account_id = $1::uuid AND kind = 'PURCHASED'`,
      [accountId],
    );
    if (BigInt(purchased!.remaining) > 0n) found.push({ kind: 'PURCHASED_UNTOUCHED', remaining: BigInt(purchased!.remaining) });
  }

  const reloads = groups.filter((g) => g.type === 'AUTO_RELOAD');
  if (reloads.length > 0) {
    found.push({
      kind: 'AUTO_RELOAD',
      count: reloads.reduce((sum, g) => sum + g.count, 0),
      amount: reloads.reduce((sum, g) => sum + g.amount, 0n),
    });
  }

  const unsettled = await listUnsettledCharges(tx, accountId);
  if (unsettled.length > 0) {
    found.push({ kind: 'AUTO_RELOAD_UNSETTLED', count: unsettled.length, amount: unsettled.reduce((sum, c) => sum + c.credits, 0n), charges: unsettled });
  }

  if (groups.some((g) => g.type === 'ADJUSTMENT' || g.type === 'WRITE_OFF')) {
    const notes = await tx.query<NoteRow>(
      `SELECT id, created_at, occurred_at, type, amount::text, note, actor_kind, actor_id, description
       FROM (${newestOfTypes(['ADJUSTMENT', 'WRITE_OFF'], 'id, seq, created_at, occurred_at, type, amount, note, actor_kind, actor_id, description', listLimit)}) notes
       ORDER BY seq DESC LIMIT ${listLimit}`,
      [accountId, fromSeq.toString()],
    );
    found.push({ kind: 'ADMIN_ADJUSTMENT', notes: notes.map(toNote) });
  }

  const rerolls = groups.filter((g) => g.type === 'USAGE' && g.action === 'reroll');
  const rerollCount = rerolls.reduce((sum, g) => sum + (g.quantity ?? g.count), 0);
  if (rerollCount >= rerollBatchThreshold) {
    found.push({ kind: 'REROLL_BATCH', count: rerollCount, amount: rerolls.reduce((sum, g) => sum + g.amount, 0n) });
  }

  if (outstanding > 0n) found.push({ kind: 'OUTSTANDING', amount: outstanding });
  return found;
}
