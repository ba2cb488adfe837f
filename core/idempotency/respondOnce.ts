import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';

export interface StoredReply {
  status: number;
  body: unknown;
  replayed: boolean;
}

/**
 * Keeps a write's first successful reply per (scope, key) for retries; a different request under the key is
 * IDEMPOTENCY_CONFLICT. Failures are not kept, so a denied request may succeed when retried.
 */
export async function respondOnce(
  ctx: CoreContext,
  request: { scope: string; key: string; requestHash: string },
  produce: () => Promise<{ status: number; body: unknown }>,
): Promise<StoredReply> {
  const previous = await find(ctx, request.scope, request.key);
  if (previous) return replay(previous, request);
  const reply = await produce();
  const body = JSON.parse(JSON.stringify(reply.body, jsonSafe)) as unknown;
  const [stored] = await ctx.db.sql.query<{ request_hash: string }>(
    `INSERT INTO stored_responses (scope, key, request_hash, status, body) VALUES ($1, $2, $3, $4, $5::jsonb)
     ON CONFLICT (scope, key) DO NOTHING RETURNING request_hash`,
    [request.scope, request.key, request.requestHash, reply.status, JSON.stringify(body)],
  );
  if (stored) return { status: reply.status, body, replayed: false };
  // A concurrent first attempt kept its reply first: answer with that one.
  return replay((await find(ctx, request.scope, request.key))!, request);
}

interface Row {
  request_hash: string;
  status: number;
  body: unknown;
}

async function find(ctx: CoreContext, scope: string, key: string): Promise<Row | undefined> {
  const [row] = await ctx.db.sql.query<Row>(
    'SELECT request_hash, status, body FROM stored_responses WHERE scope = $1 AND key = $2',
    [scope, key],
  );
  return row;
}

function replay(row: Row, request: { key: string; requestHash: string }): StoredReply {
  if (row.request_hash !== request.requestHash) {
    throw new CreditkeeperError('IDEMPOTENCY_CONFLICT', `Idempotency key ${request.key} was already used for a different request`, {
      idempotencyKey: request.key,
    });
  }
  return { status: row.status, body: row.body, replayed: true };
}

/** JSON for replies: credits (bigint) as decimal strings, exact at any size. */
export function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
