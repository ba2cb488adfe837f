-- Auto-reload's monthly limit is decided under the account's row lock by reserving each top-up
-- here before the card is charged (core/billing/autoReload.ts); the reservation is what counts
-- towards the month, charged or not yet.
CREATE TABLE "auto_reload_reservations" (
    "account_id" UUID NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "credits" BIGINT NOT NULL,
    "reserved_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "auto_reload_reservations_pkey" PRIMARY KEY ("account_id", "idempotency_key"),
    CONSTRAINT "auto_reload_reservations_credits_check" CHECK ("credits" > 0)
);

-- CreateIndex
CREATE INDEX "auto_reload_reservations_account_id_reserved_at_idx" ON "auto_reload_reservations"("account_id", "reserved_at");

-- AddForeignKey
ALTER TABLE "auto_reload_reservations" ADD CONSTRAINT "auto_reload_reservations_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- The top-ups made before reservations existed count towards their month as before.
INSERT INTO "auto_reload_reservations" ("account_id", "idempotency_key", "credits", "reserved_at")
SELECT "account_id", "idempotency_key", "amount", "created_at" FROM "entries" WHERE "type" = 'AUTO_RELOAD';
