-- entry.created (and every event carrying its entry) says when usage reported late happened: occurredAt,
-- null for an entry that happened when it was written, as in the API's entries.
CREATE OR REPLACE FUNCTION "creditkeeper_entry_webhook_events"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) THEN
    RETURN NULL;
  END IF;
  PERFORM creditkeeper_queue_webhook_events(coalesce(jsonb_agg(to_jsonb(h) ORDER BY h.account_id, h.seq, h.part), '[]'))
  FROM (
    WITH fresh AS (
      SELECT n.*, coalesce(a.organisation_id, c.organisation_id) AS organisation_id,
             n.balance_after - n.amount AS balance_before,
             coalesce(lag(n.outstanding_after) OVER (PARTITION BY n.account_id ORDER BY n.seq),
                      (SELECT p.outstanding_after FROM entries p WHERE p.account_id = n.account_id AND p.seq = n.seq - 1),
                      0) AS outstanding_before
      FROM new_entries n JOIN accounts a ON a.id = n.account_id LEFT JOIN clients c ON c.id = a.client_id
    ), described AS (
      SELECT f.*, jsonb_build_object(
        'accountId', f.account_id, 'entryId', f.id, 'seq', f.seq::text, 'type', f.type, 'category', f.category,
        'action', f.action, 'description', f.description, 'amount', f.amount::text, 'balanceAfter', f.balance_after::text,
        'outstandingAfter', f.outstanding_after::text,
        'source', CASE WHEN f.source_kind IS NULL THEN NULL ELSE jsonb_build_object('kind', f.source_kind, 'id', f.source_id, 'label', f.source_label, 'url', f.source_url) END,
        'actor', jsonb_build_object('kind', f.actor_kind, 'id', f.actor_id),
        'idempotencyKey', f.idempotency_key, 'createdAt', f.created_at, 'occurredAt', f.occurred_at) AS entry
      FROM fresh f
    )
    SELECT d.account_id, d.organisation_id, d.seq, 0 AS part, 'entry.created' AS type, d.entry AS payload, NULL::text AS once_key
    FROM described d
    UNION ALL
    SELECT d.account_id, d.organisation_id, d.seq, 1, 'deposit.outstanding',
           jsonb_build_object('accountId', d.account_id, 'outstanding', d.outstanding_after::text, 'outstandingBefore', d.outstanding_before::text, 'entry', d.entry), NULL
    FROM described d WHERE d.outstanding_after > d.outstanding_before
    UNION ALL
    SELECT d.account_id, d.organisation_id, d.seq, 2, 'balance.low',
           jsonb_build_object('accountId', d.account_id, 'level', t.level::text, 'balance', d.balance_after::text, 'balanceBefore', d.balance_before::text, 'entry', d.entry), NULL
    FROM described d JOIN balance_thresholds t ON t.account_id = d.account_id OR t.organisation_id = d.organisation_id
    WHERE d.balance_before >= t.level AND d.balance_after < t.level
    UNION ALL
    SELECT d.account_id, d.organisation_id, d.seq, 3, 'balance.depleted',
           jsonb_build_object('accountId', d.account_id, 'balance', d.balance_after::text, 'balanceBefore', d.balance_before::text, 'entry', d.entry), NULL
    FROM described d WHERE d.balance_before > 0 AND d.balance_after <= 0
    UNION ALL
    SELECT d.account_id, d.organisation_id, d.seq, 4, 'subscription.renewed',
           jsonb_build_object('accountId', d.account_id, 'subscriptionId', split_part(d.idempotency_key, ':', 2), 'plan', d.source_id,
                              'granted', d.amount::text, 'balance', d.balance_after::text, 'entry', d.entry), NULL
    FROM described d
    WHERE d.type IN ('PLAN_GRANT', 'WEEKLY_GRANT') AND d.idempotency_key LIKE 'renewal:%' AND strpos(d.idempotency_key, '#') = 0
  ) h;
  RETURN NULL;
END $$;
