import { z } from 'zod';
import { type AutoReloadCharge, listUnsettledCharges } from '../billing/autoReloadCharges.js';
import type { CoreContext } from '../context.js';
import type { ActorKind, BucketKind, EntryType } from '../db/generated/enums.js';
import type { SqlSession } from '../db/sqlRunner.js';
import { CreditkeeperError } from '../errors.js';
import { nonNegativeCredits, parseInput, uuid } from '../input.js';
import { entryTypes } from '../ledger/entryTypes.js';
import { rollupBlockEntries } from '../ledger/writeStatements.js';

export const whyInput = z.strictObject({
  accountId: uuid,
  /** Explain from this moment; by default from the most recent plan or weekly grant. */
  since: z.coerce.date({ message: 'must be a date' }).optional(),
  /** The balance the user expected: Creditkeeper finds the entries that explain the gap. */
  expectedBalance: nonNegativeCredits.optional(),
});

/** One line of the explanation: every entry since the start falls in exactly one. */
export interface WhyGroup {
  type: EntryType;
  label: string;
  /** Usage is split by category and price-list action ("Image generation", "reroll"). */
  category: string | null;
  action: string | null;
  count: number;
  quantity: number | null;
  amount: bigint;
}

export interface WhyNote {
  entryId: string;
  at: Date;
  type: EntryType;
  amount: bigint;
  note: string | null;
  actor: { kind: ActorKind; id: string | null };
}

/** What the seeds say people miss, when it applies. */
export type WhyFinding =
  | { kind: 'IN_FLIGHT_DEPOSITS'; count: number; amount: bigint }
  | { kind: 'PLAN_RESET'; amount: bigint; bucketKinds: BucketKind[] }
  | { kind: 'PURCHASED_UNTOUCHED'; remaining: bigint }
  | { kind: 'AUTO_RELOAD'; count: number; amount: bigint }
  /** Auto-reload charges whose outcome is not known yet: credited once the host confirms them. */
  | { kind: 'AUTO_RELOAD_UNSETTLED'; count: number; amount: bigint; charges: AutoReloadCharge[] }
  | { kind: 'ADMIN_ADJUSTMENT'; notes: WhyNote[] }
  | { kind: 'REROLL_BATCH'; count: number; amount: bigint }
  | { kind: 'OUTSTANDING'; amount: bigint };

export interface WhyAttribution {
  bySource: { kind: string | null; id: string | null; label: string | null; count: number; amount: bigint }[];
  byActor: { kind: ActorKind; id: string | null; count: number; amount: bigint }[];
}

export type WhyGap =
  | { kind: 'MATCHES' }
  /** The balance was exactly what the user expected after `entry`; the entries since explain the rest. */
  | { kind: 'WAS_EXPECTED_AFTER'; entry: WhyNote & { balanceAfter: bigint }; since: WhyGroup[]; change: bigint }
  /** One entry moved exactly the difference. */
  | { kind: 'ONE_ENTRY'; entry: WhyNote & { description: string } }
  /** Neither: the biggest movements in the direction of the difference since the start. */
  | { kind: 'LARGEST_MOVEMENTS'; entries: (WhyNote & { description: string })[] };

export interface WhyExplanation {
  accountId: string;
  start: {
    reason: 'LAST_GRANT' | 'SINCE' | 'ACCOUNT_OPENED';
    at: Date | null;
    /** The balance just before the first entry counted. */
    balance: bigint;
    /** The grant the explanation starts at (reason LAST_GRANT). */
    grant: { entryId: string; type: EntryType; label: string; amount: bigint } | null;
  };
  end: { at: Date; balance: bigint; outstanding: bigint };
  groups: WhyGroup[];
  entriesCounted: number;
  /** The sum of the groups: always end.balance − start.balance (addsUp says so). */
  total: bigint;
  addsUp: boolean;
  findings: WhyFinding[];
  /** For an organisation's or client's pooled balance: where the usage went. */
  attribution: WhyAttribution | null;
  gap: ({ expected: bigint; difference: bigint } & WhyGap) | null;
}

const rerollBatchThreshold = 10;
const gapSearchDepth = 10_000;
const listLimit = 10;

/**
 * "Where did my credits go?" — a support agent's debugging procedure and checklist,
 * done by the machine: from the last grant (or a date), the balance then, every change since in
 * groups, and the balance now; the groups always add up to the difference. Read in one
 * snapshot, so a write landing meanwhile cannot make it disagree with itself.
 *
 * Nothing here walks the window: aggregates come from the rollups of whole blocks of 1,024
 * entries (entry_rollups, written with the entries) plus the entries of the first, partial block,
 * and the rare entries (grants, expiries, adjustments) from the index of activity rows.
 */
export async function explainBalance(ctx: CoreContext, input: z.input<typeof whyInput>): Promise<WhyExplanation> {
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
    const groups = await groupsSince(tx, request.accountId, start.seq);
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

/**
 * A window of the log that runs to its last entry, as read: the entries from `fromSeq` up to the
 * first whole block (at most 1,023), then the rollups of every block from there (the last block,
 * however full, holds nothing past the window's end). Parameters $2–$4.
 */
function windowParams(fromSeq: bigint): string[] {
  const block = BigInt(rollupBlockEntries);
  const firstWholeBlock = (fromSeq + block - 1n) / block;
  return [fromSeq.toString(), (firstWholeBlock * block).toString(), firstWholeBlock.toString()];
}

/**
 * The newest entries of some types from seq $2 on, newest first: one range of the index of
 * activity rows per type (any entry but usage starts its own row), so a rare entry among a
 * million usage entries is found without walking them.
 */
function newestOfTypes(types: EntryType[], columns: string, limit: number): string {
  return types
    .map(
      (type) => `(SELECT ${columns} FROM entries WHERE account_id = $1::uuid AND type = '${type}' AND seq = group_seq
         AND seq >= $2::bigint ORDER BY seq DESC LIMIT ${limit})`,
    )
    .join(' UNION ALL ');
}

/** Every change from `fromSeq` to the last entry, in groups. */
async function groupsSince(tx: SqlSession, accountId: string, fromSeq: bigint): Promise<WhyGroup[]> {
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
      `SELECT id, created_at, type, amount::text, note, actor_kind, actor_id, description
       FROM (${newestOfTypes(['ADJUSTMENT', 'WRITE_OFF'], 'id, seq, created_at, type, amount, note, actor_kind, actor_id, description', listLimit)}) notes
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

const usageTypes = "('USAGE', 'DEPOSIT', 'DEPOSIT_RECONCILIATION')";

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
    `SELECT id, seq::text, created_at, type, amount::text, note, actor_kind, actor_id, description, balance_after::text
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
    `SELECT id, created_at, type, amount::text, note, actor_kind, actor_id, description FROM entries
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
     SELECT e.id, e.created_at, e.type, e.amount::text, e.note, e.actor_kind, e.actor_id, e.description
     FROM ranges CROSS JOIN LATERAL (
       SELECT id, seq, created_at, type, amount, note, actor_kind, actor_id, description FROM entries
       WHERE account_id = $1::uuid AND seq >= ranges.low AND seq < ranges.high
         AND sign(amount) = sign($5::bigint) OFFSET 0) e -- one index range per block, never a scan of the log
     ORDER BY abs(e.amount) DESC, e.seq DESC LIMIT 5`,
    [accountId, ...windowParams(fromSeq), difference.toString()],
  );
  return { kind: 'LARGEST_MOVEMENTS', entries: largest.map((r) => ({ ...toNote(r), description: r.description })) };
}

interface NoteRow {
  id: string;
  created_at: Date;
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
    type: r.type,
    amount: BigInt(r.amount),
    note: r.note,
    actor: { kind: r.actor_kind, id: r.actor_id },
  };
}
