-- Every key of a table that belongs to an account leads with account_id, and the foreign keys between
-- such tables go through it, so each can be distributed by account_id and colocated (README "Past one server").
-- It rebuilds eight keys under exclusive locks: give up rather than queue behind a long read and stall every query.
SET LOCAL lock_timeout = '5s';
ALTER TABLE "movements" DROP CONSTRAINT "movements_entry_id_fkey", DROP CONSTRAINT "movements_bucket_id_fkey";
ALTER TABLE "entries" DROP CONSTRAINT "entries_corrects_id_fkey";
ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "webhook_deliveries_event_id_fkey";

ALTER TABLE "entries" DROP CONSTRAINT "entries_pkey", ADD CONSTRAINT "entries_pkey" PRIMARY KEY ("account_id", "id");
ALTER TABLE "buckets" DROP CONSTRAINT "buckets_pkey", ADD CONSTRAINT "buckets_pkey" PRIMARY KEY ("account_id", "id");
ALTER TABLE "deposits" DROP CONSTRAINT "deposits_pkey", ADD CONSTRAINT "deposits_pkey" PRIMARY KEY ("account_id", "id");
ALTER TABLE "subscriptions" DROP CONSTRAINT "subscriptions_pkey", ADD CONSTRAINT "subscriptions_pkey" PRIMARY KEY ("account_id", "id");
ALTER TABLE "scheduled_writes" DROP CONSTRAINT "scheduled_writes_pkey", ADD CONSTRAINT "scheduled_writes_pkey" PRIMARY KEY ("account_id", "id");
ALTER TABLE "webhook_events" DROP CONSTRAINT "webhook_events_pkey", ADD CONSTRAINT "webhook_events_pkey" PRIMARY KEY ("account_id", "id");
ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "webhook_deliveries_pkey",
    ADD CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("account_id", "endpoint_id", "event_id");

DROP INDEX "deposits_entry_id_key";
DROP INDEX "deposits_settled_entry_id_key";
CREATE UNIQUE INDEX "deposits_account_id_entry_id_key" ON "deposits"("account_id", "entry_id");
CREATE UNIQUE INDEX "deposits_account_id_settled_entry_id_key" ON "deposits"("account_id", "settled_entry_id");
DROP INDEX "webhook_events_once_key_key";
CREATE UNIQUE INDEX "webhook_events_account_id_once_key_key" ON "webhook_events"("account_id", "once_key");
DROP INDEX "entries_corrects_id_idx";
CREATE INDEX "entries_corrects_id_idx" ON "entries"("account_id", "corrects_id") WHERE "corrects_id" IS NOT NULL;
DROP INDEX "movements_entry_id_idx";
CREATE INDEX "movements_account_id_entry_id_idx" ON "movements"("account_id", "entry_id");

-- An entry is never deleted (entries_append_only), so RESTRICT: SET NULL would also null its account.
ALTER TABLE "entries" ADD CONSTRAINT "entries_corrects_id_fkey" FOREIGN KEY ("account_id", "corrects_id")
    REFERENCES "entries"("account_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "movements" ADD CONSTRAINT "movements_entry_id_fkey" FOREIGN KEY ("account_id", "entry_id")
    REFERENCES "entries"("account_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "movements" ADD CONSTRAINT "movements_bucket_id_fkey" FOREIGN KEY ("account_id", "bucket_id")
    REFERENCES "buckets"("account_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "deposits" ADD CONSTRAINT "deposits_entry_id_fkey" FOREIGN KEY ("account_id", "entry_id")
    REFERENCES "entries"("account_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_event_id_fkey" FOREIGN KEY ("account_id", "event_id")
    REFERENCES "webhook_events"("account_id", "id") ON DELETE CASCADE;

-- The same function, its once_key conflict now per account (what the unique index is).
CREATE OR REPLACE FUNCTION "creditkeeper_queue_webhook_events"("happened" JSONB) RETURNS VOID LANGUAGE sql AS $$
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
    ON CONFLICT (account_id, once_key) DO NOTHING
    RETURNING id, seq, account_id, organisation_id, type
  )
  INSERT INTO webhook_deliveries (endpoint_id, event_id, account_id, event_seq)
  SELECT w.id, q.id, q.account_id, q.seq
  FROM queued q JOIN webhook_endpoints w
    ON w.enabled AND q.type = ANY(w.event_types) AND (w.organisation_id IS NULL OR w.organisation_id = q.organisation_id);
$$;
