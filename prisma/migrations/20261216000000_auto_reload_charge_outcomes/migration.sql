-- A reservation is also the record of its card charge (core/billing/chargeReservation.ts): the
-- attempt is written before the host is asked, so a charge whose answer was lost (a timeout, a
-- process killed mid-call) stays UNKNOWN and is settled later under the same idempotency key.
CREATE TYPE "AutoReloadChargeStatus" AS ENUM ('PENDING', 'CONFIRMED', 'DECLINED', 'UNKNOWN');

ALTER TABLE "auto_reload_reservations"
    ADD COLUMN "status" "AutoReloadChargeStatus" NOT NULL DEFAULT 'PENDING',
    ADD COLUMN "attempts" INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN "last_error" TEXT,
    ADD COLUMN "last_attempt_at" TIMESTAMPTZ(3),
    ADD COLUMN "settled_at" TIMESTAMPTZ(3),
    ADD COLUMN "charge_id" TEXT;

-- Reservations made before this: charged once; landed ones are confirmed, the rest (answers lost
-- to a timeout) are unknown, so the settler asks the host about them.
UPDATE "auto_reload_reservations" r
SET "attempts" = 1,
    "last_attempt_at" = r."reserved_at",
    "status" = CASE WHEN e."id" IS NULL THEN 'UNKNOWN'::"AutoReloadChargeStatus" ELSE 'CONFIRMED'::"AutoReloadChargeStatus" END,
    "charge_id" = e."source_id",
    "settled_at" = e."created_at"
FROM "auto_reload_reservations" r2
LEFT JOIN "entries" e ON e."account_id" = r2."account_id" AND e."idempotency_key" = r2."idempotency_key"
WHERE r2."account_id" = r."account_id" AND r2."idempotency_key" = r."idempotency_key";

-- What the settler looks for: the charges not yet settled, oldest attempt first.
CREATE INDEX "auto_reload_reservations_unsettled_idx" ON "auto_reload_reservations"("last_attempt_at")
    WHERE "status" IN ('PENDING', 'UNKNOWN');
