/**
 * The oracle of the /why property test: /why as it was computed before the rollups, every figure
 * an aggregate over the log itself (so its cost grew with the window). Kept verbatim, only here:
 * core/reports/why.ts must give exactly this answer.
 */
import type { z } from 'zod';
import type { CoreContext } from '../../core/context.js';
import type { ActorKind, BucketKind, EntryType } from '../../core/db/generated/enums.js';
import type { SqlSession } from '../../core/db/sqlRunner.js';
import { CreditkeeperError } from '../../core/errors.js';
import { parseInput } from '../../core/input.js';
import { entryTypes } from '../../core/ledger/entryTypes.js';
import { type WhyAttribution, type WhyExplanation, type WhyFinding, type WhyGap, type WhyGroup, type WhyNote, whyInput } from '../../core/reports/why.js';

const rerollBatchThreshold = 10;
const gapSearchDepth = 10_000;
const listLimit = 10;

export async function explainBalanceByScanningTheLog(ctx: CoreContext, input: z.input<typeof whyInput>): Promise<WhyExplanation> {
  const request = parseInput(whyInput, input);
  return ctx.db.sql.transaction(async (tx) => {
    await tx.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const [account] = await tx.query<{ balance: string; outstanding: string; last_seq: string; owner_kind: string; now: Date }>(
      'SELECT balance::text, outstanding::text, last_seq::text, owner_kind, now() AS now FROM accounts WHERE id = $1::uuid',
      [request.accountId],
    );
    if (!account) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${request.accountId}`);
    const lastSeq = BigInt(account.last_seq);
    const start = await startingPoint(tx, request.accountId, request.since, lastSeq);
    const groups = await groupsBetween(tx, request.accountId, start.seq, lastSeq);
    const total = groups.reduce((sum, g) => sum + g.amount, 0n);
    const balance = BigInt(account.balance);
    const explanation: WhyExplanation = {
      accountId: request.accountId,
      start: { reason: start.reason, at: start.at, balance: start.balance, grant: start.grant },
      end: { at: new Date(account.now), balance, outstanding: BigInt(account.outstanding) },
      groups,
      entriesCounted: groups.reduce((sum, g) => sum + g.count, 0),
      total,
      addsUp: start.balance + total === balance,
      findings: await findings(tx, request.accountId, start.seq, groups, BigInt(account.outstanding)),
      attribution: account.owner_kind === 'USER' ? null : await attribution(tx, request.accountId, start.seq),
      gap: null,
    };
    if (request.expectedBalance !== undefined) {
      explanation.gap = {
        expected: request.expectedBalance,
        difference: balance - request.expectedBalance,
        ...(await explainGap(tx, request.accountId, request.expectedBalance, balance, start.seq, lastSeq)),
      };
    }
    return explanation;
  });
}

interface StartingPoint {
  reason: WhyExplanation['start']['reason'];
  /** The first entry counted. */
  seq: bigint;
  at: Date | null;
  balance: bigint;
  grant: WhyExplanation['start']['grant'];
}

async function startingPoint(tx: SqlSession, accountId: string, since: Date | undefined, lastSeq: bigint): Promise<StartingPoint> {
  let reason: StartingPoint['reason'] = 'ACCOUNT_OPENED';
  let at: Date | null = null;
  let grant: StartingPoint['grant'] = null;
  if (since) {
    reason = 'SINCE';
    at = since;
  } else {
    const [last] = await tx.query<{ id: string; type: EntryType; amount: string; created_at: Date }>(
      `SELECT id, type, amount::text, created_at FROM entries
       WHERE account_id = $1::uuid AND type IN ('PLAN_GRANT', 'WEEKLY_GRANT') AND seq = group_seq
       ORDER BY seq DESC LIMIT 1`,
      [accountId],
    );
    if (last) {
      reason = 'LAST_GRANT';
      at = new Date(last.created_at);
      grant = { entryId: last.id, type: last.type, label: entryTypes[last.type].label, amount: BigInt(last.amount) };
    }
  }
  // Entries written with the grant (the reset of the previous period's credits) count with it.
  const [first] = await tx.query<{ seq: string | null; balance_before: string | null }>(
    `SELECT s.seq::text, (SELECT balance_after::text FROM entries WHERE account_id = $1::uuid AND seq = s.seq - 1) AS balance_before
     FROM (SELECT min(seq) AS seq FROM entries WHERE account_id = $1::uuid AND created_at >= $2::timestamptz) s`,
    [accountId, (at ?? new Date(0)).toISOString()],
  );
  const seq = first?.seq ? BigInt(first.seq) : lastSeq + 1n;
  const balance = first?.balance_before ? BigInt(first.balance_before) : seq === 1n ? 0n : await balanceAt(tx, accountId, seq - 1n);
  return { reason, seq, at, balance, grant };
}

async function balanceAt(tx: SqlSession, accountId: string, seq: bigint): Promise<bigint> {
  const [row] = await tx.query<{ balance_after: string }>(
    'SELECT balance_after::text FROM entries WHERE account_id = $1::uuid AND seq = $2::bigint',
    [accountId, seq.toString()],
  );
  return row ? BigInt(row.balance_after) : 0n;
}

async function groupsBetween(tx: SqlSession, accountId: string, fromSeq: bigint, toSeq: bigint): Promise<WhyGroup[]> {
  const rows = await tx.query<{
    type: EntryType;
    category: string | null;
    action: string | null;
    count: number;
    quantity: number | null;
    amount: string;
  }>(
    `SELECT type, CASE WHEN type = 'USAGE' THEN category END AS category, CASE WHEN type = 'USAGE' THEN action END AS action,
       count(*)::int AS count, sum(quantity)::int AS quantity, sum(amount)::text AS amount
     FROM entries WHERE account_id = $1::uuid AND seq >= $2::bigint AND seq <= $3::bigint
     GROUP BY 1, 2, 3 ORDER BY sum(amount), 1, 2, 3`,
    [accountId, fromSeq.toString(), toSeq.toString()],
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

async function findings(
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
     FROM entries e JOIN movements m ON m.entry_id = e.id JOIN buckets b ON b.id = m.bucket_id
     WHERE e.account_id = $1::uuid AND e.seq >= $2::bigint AND e.type = 'EXPIRY' AND b.kind IN ('PLAN', 'WEEKLY')
     GROUP BY b.kind`,
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

  if (groups.some((g) => g.type === 'ADJUSTMENT' || g.type === 'WRITE_OFF')) {
    const notes = await tx.query<NoteRow>(
      `SELECT id, created_at, occurred_at, type, amount::text, note, actor_kind, actor_id, description FROM entries
       WHERE account_id = $1::uuid AND seq >= $2::bigint AND type IN ('ADJUSTMENT', 'WRITE_OFF')
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

async function attribution(tx: SqlSession, accountId: string, fromSeq: bigint): Promise<WhyAttribution> {
  const usage = `FROM entries WHERE account_id = $1::uuid AND seq >= $2::bigint AND type IN ('USAGE', 'DEPOSIT', 'DEPOSIT_RECONCILIATION')`;
  const params = [accountId, fromSeq.toString()];
  const bySource = await tx.query<{ kind: string | null; id: string | null; label: string | null; count: number; amount: string }>(
    `SELECT source_kind AS kind, source_id AS id, max(source_label) AS label, count(*)::int AS count, sum(amount)::text AS amount
     ${usage} GROUP BY source_kind, source_id ORDER BY sum(amount), count(*) DESC LIMIT ${listLimit}`,
    params,
  );
  const byActor = await tx.query<{ kind: ActorKind; id: string | null; count: number; amount: string }>(
    `SELECT actor_kind AS kind, actor_id AS id, count(*)::int AS count, sum(amount)::text AS amount
     ${usage} GROUP BY actor_kind, actor_id ORDER BY sum(amount), count(*) DESC LIMIT ${listLimit}`,
    params,
  );
  return {
    bySource: bySource.map((r) => ({ ...r, amount: BigInt(r.amount) })),
    byActor: byActor.map((r) => ({ ...r, amount: BigInt(r.amount) })),
  };
}

async function explainGap(
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
    const since = await groupsBetween(tx, accountId, BigInt(was.seq) + 1n, lastSeq);
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
  const largest = await tx.query<NoteRow>(
    `SELECT id, created_at, occurred_at, type, amount::text, note, actor_kind, actor_id, description FROM entries
     WHERE account_id = $1::uuid AND seq >= $2::bigint AND sign(amount) = sign($3::bigint)
     ORDER BY abs(amount) DESC, seq DESC LIMIT 5`,
    [accountId, fromSeq.toString(), difference.toString()],
  );
  return { kind: 'LARGEST_MOVEMENTS', entries: largest.map((r) => ({ ...toNote(r), description: r.description })) };
}

interface NoteRow {
  id: string;
  created_at: Date;
  occurred_at: Date | null;
  type: EntryType;
  amount: string;
  note: string | null;
  actor_kind: ActorKind;
  actor_id: string | null;
  description: string;
}

function toNote(r: NoteRow): WhyNote {
  return {
    entryId: r.id,
    at: new Date(r.created_at),
    occurredAt: r.occurred_at === null ? null : new Date(r.occurred_at),
    type: r.type,
    amount: BigInt(r.amount),
    note: r.note,
    actor: { kind: r.actor_kind, id: r.actor_id },
  };
}
