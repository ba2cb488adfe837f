-- Each movement carries its account, its entry's seq and what its bucket held after it, so the
-- buckets as they stood after any entry are one probe of the primary key per bucket (the last
-- movement at or before that seq) instead of a walk of the log. The key leads with the account,
-- like every ledger table's, so the table can be distributed by account.
ALTER TABLE "movements" ADD COLUMN "account_id" UUID, ADD COLUMN "seq" BIGINT, ADD COLUMN "remaining_after" BIGINT;

-- A long history takes longer than any request may; movements are append-only, and this backfill
-- is the one update they ever get. A bucket moves at most once per entry, so its running sum in
-- seq order is what it held after each.
SET LOCAL statement_timeout = 0;
ALTER TABLE "movements" DISABLE TRIGGER "movements_append_only";
UPDATE "movements" SET "account_id" = w."account_id", "seq" = w."seq", "remaining_after" = w."remaining_after"
FROM (
    SELECT m."entry_id", m."bucket_id", e."account_id", e."seq",
        sum(m."amount") OVER (PARTITION BY m."bucket_id" ORDER BY e."seq") AS "remaining_after"
    FROM "movements" m JOIN "entries" e ON e."id" = m."entry_id"
) w
WHERE "movements"."entry_id" = w."entry_id" AND "movements"."bucket_id" = w."bucket_id";
ALTER TABLE "movements" ENABLE TRIGGER "movements_append_only";

ALTER TABLE "movements" ALTER COLUMN "account_id" SET NOT NULL, ALTER COLUMN "seq" SET NOT NULL,
    ALTER COLUMN "remaining_after" SET NOT NULL;
ALTER TABLE "movements" DROP CONSTRAINT "movements_pkey";
DROP INDEX "movements_bucket_id_idx";
ALTER TABLE "movements" ADD CONSTRAINT "movements_pkey" PRIMARY KEY ("account_id", "bucket_id", "seq");
CREATE INDEX "movements_entry_id_idx" ON "movements"("entry_id");
