-- The replay lookup of creditkeeper_write_state, one key at a time in a subquery per key: with
-- equality on both columns of the (account_id, idempotency_key) unique index the planner takes
-- that index whatever it believes about the table. The first form (= ANY of the keys), like a join
-- with the keys, could, before the table had statistics, walk the account's whole history instead:
-- a write got slower as the account grew (the embedded engine runs no autovacuum).
CREATE OR REPLACE FUNCTION "creditkeeper_write_state"(p_account UUID, p_keys TEXT[], p_lock BOOLEAN) RETURNS JSON
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF p_lock THEN
        PERFORM 1 FROM "accounts" WHERE "id" = p_account FOR UPDATE;
    END IF;
    RETURN (
        SELECT json_build_object(
            'balance', a."balance"::text,
            'outstanding', a."outstanding"::text,
            'last_seq', a."last_seq"::text,
            'now', date_trunc('milliseconds', clock_timestamp()),
            'replay_hashes', (SELECT coalesce(json_object_agg(used."key", used."request_hash"), '{}'::json)
                              FROM (SELECT k."key", (SELECT e."request_hash" FROM "entries" e
                                                     WHERE e."account_id" = a."id" AND e."idempotency_key" = k."key") AS "request_hash"
                                    FROM unnest(p_keys) AS k("key")) used
                              WHERE used."request_hash" IS NOT NULL),
            'buckets', (SELECT coalesce(json_agg(json_build_object(
                                'id', b."id", 'kind', b."kind", 'granted', b."granted"::text,
                                'remaining', b."remaining"::text, 'priority', b."priority",
                                'expires_at', b."expires_at", 'created_at', b."created_at")), '[]'::json)
                        FROM "buckets" b WHERE b."account_id" = a."id" AND b."remaining" > 0),
            'last_entry', (SELECT json_build_object(
                                'type', e."type", 'category', e."category", 'source_kind', e."source_kind",
                                'source_id', e."source_id", 'group_seq', e."group_seq"::text,
                                'group_started_at', g."created_at")
                           FROM "entries" e JOIN "entries" g ON g."account_id" = e."account_id" AND g."seq" = e."group_seq"
                           WHERE e."account_id" = a."id" AND e."seq" = a."last_seq"))
        FROM "accounts" a WHERE a."id" = p_account);
END;
$$;

-- Its plans are not cached: a plan made while the tables were nearly empty (where every index
-- looks alike) would be kept for the whole session and, on a long history, walk the account's
-- entries on every write. Planning it each time costs a fraction of a millisecond.
ALTER FUNCTION "creditkeeper_write_state"(UUID, TEXT[], BOOLEAN) SET plan_cache_mode = force_custom_plan;
