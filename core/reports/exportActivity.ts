import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { parseInput, uuid } from '../input.js';
import { entryTypes } from '../ledger/entryTypes.js';
import type { EntryRow } from '../ledger/entryView.js';
import { CreditkeeperError } from '../errors.js';
import { activityFilterChecks, activityFilterMessage, activityFilterShape, filterConditions, typesShown } from './activityFilter.js';

export const exportActivityInput = z.strictObject({ accountId: uuid, ...activityFilterShape }).refine(activityFilterChecks, activityFilterMessage);

const batchSize = 1000;

const columns = [
  'date', 'seq', 'type', 'activity', 'category', 'action', 'quantity', 'description', 'source_kind', 'source_id',
  'source_label', 'source_url', 'credits', 'balance_after', 'original_credits', 'discount_percent', 'actor_kind',
  'actor_id', 'note', 'entry_id', 'group_seq', 'occurred_at',
] as const;

/**
 * CSV, one line per entry, oldest first, streamed in keyset batches up to the newest entry when the export began,
 * so memory stays flat and entries arriving meanwhile cannot make it run forever.
 */
export async function* exportActivityCsv(ctx: CoreContext, input: z.input<typeof exportActivityInput>): AsyncGenerator<string> {
  const request = parseInput(exportActivityInput, input);
  const [account] = await ctx.db.sql.query<{ last_seq: string }>('SELECT last_seq::text FROM accounts WHERE id = $1::uuid', [
    request.accountId,
  ]);
  if (!account) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${request.accountId}`);
  yield `${columns.join(',')}\r\n`;
  const types = typesShown(request);
  if (types.length === 0) return;
  const conditions = filterConditions(request, 5);
  let after = '0';
  for (;;) {
    const rows = await ctx.db.sql.query<Omit<EntryRow, 'movements'>>(
      `SELECT h.id, h.account_id, h.seq, h.type, h.category, h.action, h.quantity, h.description, h.amount, h.balance_after,
         h.outstanding_after, h.original_amount, h.discount_percent, h.source_kind, h.source_id, h.source_label,
         h.source_url, h.actor_kind, h.actor_id, h.note, h.idempotency_key, h.corrects_id, h.group_seq, h.created_at,
         h.occurred_at
       FROM entries h
       WHERE h.account_id = $1::uuid AND h.seq > $2::bigint AND h.seq <= $3::bigint AND h.type = ANY($4::text[]::"EntryType"[])
         ${conditions.sql}
       ORDER BY h.seq LIMIT ${batchSize}`,
      [request.accountId, after, account.last_seq, types, ...conditions.params],
    );
    if (rows.length === 0) return;
    yield rows.map(csvLine).join('');
    after = String(rows.at(-1)!.seq);
  }
}

function csvLine(r: Omit<EntryRow, 'movements'>): string {
  const values: (string | number | bigint | null)[] = [
    new Date(r.created_at).toISOString(),
    r.seq,
    r.type,
    text(entryTypes[r.type].label),
    text(r.category),
    text(r.action),
    r.quantity,
    text(r.description),
    text(r.source_kind),
    text(r.source_id),
    text(r.source_label),
    text(r.source_url),
    r.amount,
    r.balance_after,
    r.original_amount,
    r.discount_percent,
    r.actor_kind,
    text(r.actor_id),
    text(r.note),
    r.id,
    r.group_seq,
    r.occurred_at && new Date(r.occurred_at).toISOString(),
  ];
  return `${values.map((v) => (v === null ? '' : quote(String(v)))).join(',')}\r\n`;
}

/** Free text that a spreadsheet would run as a formula (=, +, -, @ first) is made inert. */
function text(value: string | null): string | null {
  return value !== null && /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

function quote(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
