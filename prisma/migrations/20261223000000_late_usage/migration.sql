-- Late usage: when a usage event happened, where it was reported after the fact (POST /v1/usage/batch's
-- occurredAt). Null: it happened when written (created_at). The balance moved at created_at; the
-- usage rollups, charts and summaries count it at occurred_at.
ALTER TABLE "entries" ADD COLUMN "occurred_at" TIMESTAMPTZ(3);

-- usedSince's edge quarter hour finds the late entries that occurred in it without walking
-- everything written since; only late entries are indexed.
CREATE INDEX "entries_late_idx" ON "entries"("account_id", "occurred_at") WHERE "occurred_at" IS NOT NULL;
