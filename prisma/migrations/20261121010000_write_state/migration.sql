-- The state a batch of ledger writes starts from, in one round trip: the account, which of the
-- writes' idempotency keys were already used (and for what request), the buckets with credit
-- left, and the last entry (which usage group a new usage entry may join).
-- With p_lock the account row is locked first and everything else is read after the lock is
-- granted: each statement of a VOLATILE plpgsql function takes a fresh snapshot, so it sees
-- every writer it waited for. The write's time is read from the clock after any lock is held:
-- a write that lands after another always carries a later (or equal) time, so entries' times
-- follow their sequence. Returns NULL when the account does not exist.
CREATE FUNCTION "creditkeeper_write_state"(p_account UUID, p_keys TEXT[], p_lock BOOLEAN) RETURNS JSON
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
            'replay_hashes', (SELECT coalesce(json_object_agg(e."idempotency_key", e."request_hash"), '{}'::json)
                              FROM "entries" e WHERE e."account_id" = a."id" AND e."idempotency_key" = ANY(p_keys)),
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
