/**
 * The statements of a ledger write that read: the accounts' state, and the row lock a redo takes.
 * What writes all that was staged on them is in flushStatement.ts.
 */

/**
 * Each account's state and, of the keys its writes bring, those used before with their request's hash ($1: [{ id, keys }]);
 * every lookup is by account (LATERAL, OFFSET 0: one primary-key probe per account whatever the plan).
 */
export const readStateStatement = `
SELECT a.id::text AS account_id, json_build_object(
  'balance', a.balance::text,
  'outstanding', a.outstanding::text,
  'last_seq', a.last_seq::text,
  'opened_at', a.created_at,
  'now', date_trunc('milliseconds', clock_timestamp()),
  'replay_hashes', (SELECT coalesce(json_object_agg(used.key, used.request_hash), '{}'::json)
                    FROM (SELECT k.key, (SELECT e.request_hash FROM entries e
                                         WHERE e.account_id = a.id AND e.idempotency_key = k.key) AS request_hash
                          FROM unnest(r.keys) AS k(key)) used
                    WHERE used.request_hash IS NOT NULL),
  'buckets', (SELECT coalesce(json_agg(json_build_object(
                'id', b.id, 'kind', b.kind, 'granted', b.granted::text, 'remaining', b.remaining::text,
                'priority', b.priority, 'expires_at', b.expires_at, 'created_at', b.created_at)), '[]'::json)
              FROM buckets b WHERE b.account_id = a.id AND b.remaining > 0),
  'last_entry', (SELECT json_build_object(
                   'type', e.type, 'category', e.category, 'source_kind', e.source_kind, 'source_id', e.source_id,
                   'group_seq', e.group_seq::text, 'group_started_at', g.created_at, 'created_at', e.created_at,
                   'late', e.occurred_at IS NOT NULL)
                 FROM entries e JOIN entries g ON g.account_id = e.account_id AND g.seq = e.group_seq
                 WHERE e.account_id = a.id AND e.seq = a.last_seq)) AS state
FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, keys text[])
CROSS JOIN LATERAL (SELECT * FROM accounts WHERE accounts.id = r.id OFFSET 0) a`;

/** Entries per block of `entry_rollups` (its `block` is seq / this); the migration backfilled with the same. */
export const rollupBlockEntries = 1024;

/** Taken before reading an account another process wrote meanwhile, so the write cannot miss again. */
export const lockAccountStatement = 'SELECT 1 FROM accounts WHERE id = $1::uuid FOR UPDATE';
