-- Webhooks out, from a transactional outbox: the events (and one delivery per endpoint that wants
-- each) are written by triggers in the very transaction of the write that causes them, so an
-- acknowledged write always has its events and a rolled-back one never does. core/webhooks/
-- delivers them.

CREATE TYPE "WebhookDeliveryStatus" AS ENUM ('PENDING', 'RETRYING', 'DELIVERED');

-- Where events go: an organisation's endpoint hears its own accounts' (and its clients'); a
-- global one (organisation_id NULL) hears every account's.
CREATE TABLE "webhook_endpoints" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organisation_id" UUID,
    "url" TEXT NOT NULL,
    -- Never NULL (the check): Prisma's lists are nullable columns.
    "event_types" TEXT[],
    -- whsec_…: needed in clear to sign; shown to its creator once, never listed.
    "secret" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    -- Since when every attempt has failed (NULL when the last one succeeded).
    "failing_since" TIMESTAMPTZ(3),
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_endpoints_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "webhook_endpoints_event_types_check" CHECK ("event_types" IS NOT NULL AND cardinality("event_types") > 0)
);
CREATE INDEX "webhook_endpoints_organisation_id_idx" ON "webhook_endpoints"("organisation_id");
ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "webhook_endpoints_organisation_id_fkey" FOREIGN KEY ("organisation_id") REFERENCES "organisations"("id") ON DELETE CASCADE;

-- One thing that happened. `id` is the webhook-id a receiver deduplicates on; `seq` orders an
-- account's events (an account's writes are serialised by its row, so their seqs are in commit order).
CREATE TABLE "webhook_events" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "seq" BIGSERIAL NOT NULL,
    "account_id" UUID NOT NULL,
    "organisation_id" UUID,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    -- Events that must happen once per thing (credits.expiring: once per bucket).
    "once_key" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_events_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "webhook_events_once_key_key" ON "webhook_events"("once_key");
CREATE INDEX "webhook_events_account_id_seq_idx" ON "webhook_events"("account_id", "seq");

-- One event to one endpoint: what the dispatcher claims (FOR UPDATE SKIP LOCKED), tries, retries.
CREATE TABLE "webhook_deliveries" (
    "endpoint_id" UUID NOT NULL,
    "event_id" UUID NOT NULL,
    "account_id" UUID NOT NULL,
    "event_seq" BIGINT NOT NULL,
    "status" "WebhookDeliveryStatus" NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_attempt_at" TIMESTAMPTZ(3),
    "last_status_code" INTEGER,
    "last_error" TEXT,
    "delivered_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("endpoint_id", "event_id")
);
-- An endpoint's deliveries, newest first (the list).
CREATE INDEX "webhook_deliveries_endpoint_id_event_seq_idx" ON "webhook_deliveries"("endpoint_id", "event_seq");
-- In order per account per endpoint: only the oldest undelivered one of each pair may go; the
-- delivered ones (all of history) stay out of this index, so the check costs what is waiting.
CREATE INDEX "webhook_deliveries_waiting_idx" ON "webhook_deliveries"("endpoint_id", "account_id", "event_seq") WHERE "status" <> 'DELIVERED';
CREATE INDEX "webhook_deliveries_event_id_idx" ON "webhook_deliveries"("event_id");
CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries"("next_attempt_at") WHERE "status" <> 'DELIVERED';
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_endpoint_id_fkey" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE;
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "webhook_events"("id") ON DELETE CASCADE;

-- Per-account (or per-organisation: its account and its clients') alert levels: balance.low fires
-- when an entry takes the balance from at or above a level to below it, so once per crossing, and
-- again only after the balance has risen back to it.
CREATE TABLE "balance_thresholds" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "account_id" UUID,
    "organisation_id" UUID,
    "level" BIGINT NOT NULL,
    -- Set when the level was given as a share of the plan's allocation (resolved when set).
    "percent_of_plan" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "balance_thresholds_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "balance_thresholds_owner_check" CHECK (("account_id" IS NULL) <> ("organisation_id" IS NULL)),
    CONSTRAINT "balance_thresholds_level_check" CHECK ("level" > 0 AND "level" <= 1000000000000000 AND ("percent_of_plan" IS NULL OR "percent_of_plan" BETWEEN 1 AND 100))
);
CREATE UNIQUE INDEX "balance_thresholds_account_id_level_key" ON "balance_thresholds"("account_id", "level");
CREATE UNIQUE INDEX "balance_thresholds_organisation_id_level_key" ON "balance_thresholds"("organisation_id", "level");
ALTER TABLE "balance_thresholds" ADD CONSTRAINT "balance_thresholds_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE;
ALTER TABLE "balance_thresholds" ADD CONSTRAINT "balance_thresholds_organisation_id_fkey" FOREIGN KEY ("organisation_id") REFERENCES "organisations"("id") ON DELETE CASCADE;

-- Queues events given as rows (account_id, organisation_id, type, payload, once_key) in the order
-- given, each only if some enabled endpoint wants it, with a delivery per such endpoint. An event
-- whose once_key was queued before is not queued again.
CREATE FUNCTION "creditkeeper_queue_webhook_events"("happened" JSONB) RETURNS VOID LANGUAGE sql AS $$
  WITH given AS (
    SELECT h.account_id, h.organisation_id, h.type, h.payload, h.once_key, h.n
    FROM ROWS FROM (jsonb_to_recordset("happened") AS (account_id uuid, organisation_id uuid, type text, payload jsonb, once_key text))
      WITH ORDINALITY AS h(account_id, organisation_id, type, payload, once_key, n)
    WHERE EXISTS (SELECT 1 FROM webhook_endpoints w
                  WHERE w.enabled AND h.type = ANY(w.event_types) AND (w.organisation_id IS NULL OR w.organisation_id = h.organisation_id))
    ORDER BY h.n
  ), queued AS (
    INSERT INTO webhook_events (account_id, organisation_id, type, payload, once_key)
    SELECT account_id, organisation_id, type, payload, once_key FROM given ORDER BY n
    ON CONFLICT (once_key) DO NOTHING
    RETURNING id, seq, account_id, organisation_id, type
  )
  INSERT INTO webhook_deliveries (endpoint_id, event_id, account_id, event_seq)
  SELECT w.id, q.id, q.account_id, q.seq
  FROM queued q JOIN webhook_endpoints w
    ON w.enabled AND q.type = ANY(w.event_types) AND (w.organisation_id IS NULL OR w.organisation_id = q.organisation_id);
$$;

-- The events of the entries one statement wrote: entry.created for each; deposit.outstanding when
-- it raised what is owed; balance.low when it crossed a level downwards; balance.depleted when it
-- took the last credit; subscription.renewed for a renewal's grant (its key is the renewal's,
-- core/plans/renewSubscription.ts). Credits are decimal strings, as in the API. With no endpoint
-- enabled it costs one probe of a tiny table.
CREATE FUNCTION "creditkeeper_entry_webhook_events"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
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
        'idempotencyKey', f.idempotency_key, 'createdAt', f.created_at) AS entry
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

CREATE TRIGGER "entries_webhook_events" AFTER INSERT ON "entries"
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION "creditkeeper_entry_webhook_events"();

-- auto_reload.charge_unknown: a card charge whose answer was lost (core/billing/chargeReservation.ts).
CREATE FUNCTION "creditkeeper_charge_unknown_webhook_event"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'UNKNOWN' AND OLD.status IS DISTINCT FROM 'UNKNOWN' AND EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) THEN
    PERFORM creditkeeper_queue_webhook_events(jsonb_build_array(jsonb_build_object(
      'account_id', NEW.account_id,
      'organisation_id', (SELECT coalesce(a.organisation_id, c.organisation_id) FROM accounts a LEFT JOIN clients c ON c.id = a.client_id WHERE a.id = NEW.account_id),
      'type', 'auto_reload.charge_unknown',
      'payload', jsonb_build_object('accountId', NEW.account_id, 'chargeKey', NEW.idempotency_key, 'credits', NEW.credits::text,
                                    'attempts', NEW.attempts, 'lastError', NEW.last_error, 'reservedAt', NEW.reserved_at))));
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "auto_reload_reservations_webhook_events" AFTER UPDATE OF "status" ON "auto_reload_reservations"
    FOR EACH ROW EXECUTE FUNCTION "creditkeeper_charge_unknown_webhook_event"();
