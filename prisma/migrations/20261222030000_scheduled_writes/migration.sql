-- Grants and purchases dated in the future: kept here until due, then landed by the cron's
-- catch-up under their own idempotency key, so exactly once however often it runs.
CREATE TABLE "scheduled_writes" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "account_id" UUID NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "request" JSONB NOT NULL,
    "request_hash" TEXT NOT NULL,
    "effective_at" TIMESTAMPTZ(3) NOT NULL,
    "landed_entry_id" UUID,
    "landed_at" TIMESTAMPTZ(3),
    -- Why it could not land (its expiry had passed, the account is gone): it is not tried again.
    "failure" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "scheduled_writes_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "scheduled_writes_operation_check" CHECK ("operation" IN ('grant', 'purchase'))
);
CREATE UNIQUE INDEX "scheduled_writes_account_id_idempotency_key_key" ON "scheduled_writes"("account_id", "idempotency_key");
CREATE INDEX "scheduled_writes_due_idx" ON "scheduled_writes"("effective_at") WHERE "landed_at" IS NULL AND "failure" IS NULL;
ALTER TABLE "scheduled_writes" ADD CONSTRAINT "scheduled_writes_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE;
