-- What /why and the activity log read instead of the log itself, kept in the statement that
-- writes the entries (core/ledger/writeStatements.ts).

-- Per account and block of 1,024 entries (seq / 1024), the block's entries added up by everything
-- /why groups by: a window of the log is its first partial block read from the entries plus whole
-- blocks read from here, so it costs a thousandth of its length. In the key, '' stands for none:
-- no entry has an empty category, action, source or actor id (each is validated non-empty).
CREATE TABLE "entry_rollups" (
    "account_id" UUID NOT NULL,
    "block" BIGINT NOT NULL,
    "type" "EntryType" NOT NULL,
    "category" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "source_kind" TEXT NOT NULL,
    "source_id" TEXT NOT NULL,
    "actor_kind" "ActorKind" NOT NULL,
    "actor_id" TEXT NOT NULL,
    "entries" INTEGER NOT NULL,
    "quantity" BIGINT,
    "amount" BIGINT NOT NULL,
    "source_label" TEXT,
    "smallest_amount" BIGINT NOT NULL,
    "largest_amount" BIGINT NOT NULL,

    CONSTRAINT "entry_rollups_pkey" PRIMARY KEY ("account_id", "block", "type", "category", "action", "source_kind", "source_id", "actor_kind", "actor_id")
);

ALTER TABLE "entry_rollups" ADD CONSTRAINT "entry_rollups_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Rows of the activity log (entries that start a row: seq = group_seq) per account and type:
-- the "of n" of every page without counting the log.
CREATE TABLE "activity_counts" (
    "account_id" UUID NOT NULL,
    "type" "EntryType" NOT NULL,
    "rows" BIGINT NOT NULL,

    CONSTRAINT "activity_counts_pkey" PRIMARY KEY ("account_id", "type")
);

ALTER TABLE "activity_counts" ADD CONSTRAINT "activity_counts_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- The history written before them.
INSERT INTO "entry_rollups" ("account_id", "block", "type", "category", "action", "source_kind", "source_id", "actor_kind",
    "actor_id", "entries", "quantity", "amount", "source_label", "smallest_amount", "largest_amount")
SELECT "account_id", "seq" / 1024, "type", coalesce("category", ''), coalesce("action", ''), coalesce("source_kind", ''),
    coalesce("source_id", ''), "actor_kind", coalesce("actor_id", ''),
    count(*), sum("quantity"), sum("amount"), max("source_label"), min("amount"), max("amount")
FROM "entries" GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;

INSERT INTO "activity_counts" ("account_id", "type", "rows")
SELECT "account_id", "type", count(*) FROM "entries" WHERE "seq" = "group_seq" GROUP BY 1, 2;
