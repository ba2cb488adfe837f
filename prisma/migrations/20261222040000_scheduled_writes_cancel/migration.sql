-- A dated grant or purchase may be cancelled while it is still in the future: it then never lands.
ALTER TABLE "scheduled_writes" ADD COLUMN "cancelled_at" TIMESTAMPTZ(3);
-- Who cancelled it ({"kind","id"}, as an entry's actor) and why.
ALTER TABLE "scheduled_writes" ADD COLUMN "cancelled_by" JSONB;
ALTER TABLE "scheduled_writes" ADD COLUMN "cancel_reason" TEXT;
DROP INDEX "scheduled_writes_due_idx";
CREATE INDEX "scheduled_writes_due_idx" ON "scheduled_writes"("effective_at") WHERE "landed_at" IS NULL AND "failure" IS NULL AND "cancelled_at" IS NULL;
