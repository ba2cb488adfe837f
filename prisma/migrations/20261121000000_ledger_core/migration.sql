-- CreateEnum
CREATE TYPE "OwnerKind" AS ENUM ('USER', 'ORGANISATION', 'CLIENT');

-- CreateEnum
CREATE TYPE "MemberRole" AS ENUM ('OWNER', 'ADMIN', 'OPERATOR', 'VIEWER');

-- CreateEnum
CREATE TYPE "BucketKind" AS ENUM ('PLAN', 'WEEKLY', 'PURCHASED', 'BONUS', 'REWARD', 'PROMO');

-- CreateEnum
CREATE TYPE "EntryType" AS ENUM ('USAGE', 'PLAN_GRANT', 'WEEKLY_GRANT', 'PURCHASE', 'PURCHASE_REVERSAL', 'DISCORD_REWARD', 'AD_REWARD', 'SIGNUP_BONUS', 'MANUAL_CREDIT', 'REFUND', 'ADJUSTMENT', 'WRITE_OFF', 'EXPIRY', 'PRORATION', 'AUTO_RELOAD', 'DEPOSIT', 'DEPOSIT_RECONCILIATION', 'DEPOSIT_VOID', 'OUTSTANDING_SETTLEMENT');

-- CreateEnum
CREATE TYPE "ActorKind" AS ENUM ('USER', 'STAFF', 'SYSTEM', 'SERVICE');

-- CreateEnum
CREATE TYPE "DepositStatus" AS ENUM ('IN_FLIGHT', 'RECONCILED', 'VOIDED');

-- CreateTable
CREATE TABLE "users" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "external_id" TEXT NOT NULL,
    "display_name" TEXT,
    "time_zone" TEXT NOT NULL DEFAULT 'UTC',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "organisations" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "external_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "organisations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "clients" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organisation_id" UUID NOT NULL,
    "external_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "clients_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "members" (
    "organisation_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "role" "MemberRole" NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "members_pkey" PRIMARY KEY ("organisation_id","user_id")
);

-- CreateTable
CREATE TABLE "accounts" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "owner_kind" "OwnerKind" NOT NULL,
    "user_id" UUID,
    "organisation_id" UUID,
    "client_id" UUID,
    "balance" BIGINT NOT NULL DEFAULT 0,
    "outstanding" BIGINT NOT NULL DEFAULT 0,
    "last_seq" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "buckets" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "account_id" UUID NOT NULL,
    "kind" "BucketKind" NOT NULL,
    "granted" BIGINT NOT NULL,
    "remaining" BIGINT NOT NULL,
    "priority" INTEGER NOT NULL,
    "expires_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "buckets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "entries" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "account_id" UUID NOT NULL,
    "seq" BIGINT NOT NULL,
    "type" "EntryType" NOT NULL,
    "category" TEXT,
    "action" TEXT,
    "quantity" INTEGER,
    "description" TEXT NOT NULL,
    "amount" BIGINT NOT NULL,
    "balance_after" BIGINT NOT NULL,
    "outstanding_after" BIGINT NOT NULL,
    "original_amount" BIGINT,
    "discount_percent" INTEGER,
    "source_kind" TEXT,
    "source_id" TEXT,
    "source_label" TEXT,
    "source_url" TEXT,
    "actor_kind" "ActorKind" NOT NULL,
    "actor_id" TEXT,
    "note" TEXT,
    "idempotency_key" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "corrects_id" UUID,
    "group_seq" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "entries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "movements" (
    "entry_id" UUID NOT NULL,
    "bucket_id" UUID NOT NULL,
    "amount" BIGINT NOT NULL,

    CONSTRAINT "movements_pkey" PRIMARY KEY ("entry_id","bucket_id")
);

-- CreateTable
CREATE TABLE "deposits" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "account_id" UUID NOT NULL,
    "entry_id" UUID NOT NULL,
    "charged" BIGINT NOT NULL,
    "held" BIGINT NOT NULL,
    "action" TEXT,
    "status" "DepositStatus" NOT NULL DEFAULT 'IN_FLIGHT',
    "settled_entry_id" UUID,
    "actual_amount" BIGINT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "settled_at" TIMESTAMPTZ(3),

    CONSTRAINT "deposits_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "usage_rollups" (
    "account_id" UUID NOT NULL,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "used" BIGINT NOT NULL DEFAULT 0,
    "added" BIGINT NOT NULL DEFAULT 0,
    "usage_count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "usage_rollups_pkey" PRIMARY KEY ("account_id","period_start")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_external_id_key" ON "users"("external_id");

-- CreateIndex
CREATE UNIQUE INDEX "organisations_external_id_key" ON "organisations"("external_id");

-- CreateIndex
CREATE UNIQUE INDEX "clients_organisation_id_external_id_key" ON "clients"("organisation_id", "external_id");

-- CreateIndex
CREATE INDEX "members_user_id_idx" ON "members"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "accounts_user_id_key" ON "accounts"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "accounts_organisation_id_key" ON "accounts"("organisation_id");

-- CreateIndex
CREATE UNIQUE INDEX "accounts_client_id_key" ON "accounts"("client_id");

-- CreateIndex
CREATE INDEX "buckets_account_id_remaining_idx" ON "buckets"("account_id", "remaining");

-- CreateIndex
CREATE INDEX "entries_account_id_group_seq_idx" ON "entries"("account_id", "group_seq");

-- CreateIndex
CREATE INDEX "entries_account_id_created_at_idx" ON "entries"("account_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "entries_account_id_idempotency_key_key" ON "entries"("account_id", "idempotency_key");

-- CreateIndex
CREATE UNIQUE INDEX "entries_account_id_seq_key" ON "entries"("account_id", "seq");

-- CreateIndex
CREATE INDEX "movements_bucket_id_idx" ON "movements"("bucket_id");

-- CreateIndex
CREATE UNIQUE INDEX "deposits_entry_id_key" ON "deposits"("entry_id");

-- CreateIndex
CREATE UNIQUE INDEX "deposits_settled_entry_id_key" ON "deposits"("settled_entry_id");

-- CreateIndex
CREATE INDEX "deposits_account_id_status_idx" ON "deposits"("account_id", "status");

-- AddForeignKey
ALTER TABLE "clients" ADD CONSTRAINT "clients_organisation_id_fkey" FOREIGN KEY ("organisation_id") REFERENCES "organisations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "members" ADD CONSTRAINT "members_organisation_id_fkey" FOREIGN KEY ("organisation_id") REFERENCES "organisations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "members" ADD CONSTRAINT "members_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_organisation_id_fkey" FOREIGN KEY ("organisation_id") REFERENCES "organisations"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_client_id_fkey" FOREIGN KEY ("client_id") REFERENCES "clients"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "buckets" ADD CONSTRAINT "buckets_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "entries" ADD CONSTRAINT "entries_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "entries" ADD CONSTRAINT "entries_corrects_id_fkey" FOREIGN KEY ("corrects_id") REFERENCES "entries"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "movements" ADD CONSTRAINT "movements_entry_id_fkey" FOREIGN KEY ("entry_id") REFERENCES "entries"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "movements" ADD CONSTRAINT "movements_bucket_id_fkey" FOREIGN KEY ("bucket_id") REFERENCES "buckets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "deposits" ADD CONSTRAINT "deposits_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "usage_rollups" ADD CONSTRAINT "usage_rollups_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Guards the Prisma schema cannot express: the database itself refuses a lying ledger.
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_balance_nonnegative" CHECK ("balance" >= 0 AND "outstanding" >= 0);
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_one_owner" CHECK (
    ("owner_kind" = 'USER' AND "user_id" IS NOT NULL AND "organisation_id" IS NULL AND "client_id" IS NULL) OR
    ("owner_kind" = 'ORGANISATION' AND "organisation_id" IS NOT NULL AND "user_id" IS NULL AND "client_id" IS NULL) OR
    ("owner_kind" = 'CLIENT' AND "client_id" IS NOT NULL AND "user_id" IS NULL AND "organisation_id" IS NULL));
ALTER TABLE "buckets" ADD CONSTRAINT "buckets_remaining_within_granted" CHECK ("remaining" >= 0 AND "remaining" <= "granted");
ALTER TABLE "deposits" ADD CONSTRAINT "deposits_held_within_charged" CHECK ("held" >= 0 AND "held" <= "charged");

-- Spendable buckets of an account, in drawdown order, without touching spent-out lots.
CREATE INDEX "buckets_live_drawdown_idx" ON "buckets"("account_id", "expires_at", "priority", "created_at") WHERE "remaining" > 0;

-- Corrections of an entry (refunds, reversals, reconciliations): most entries correct nothing,
-- so only the ones that do are indexed.
CREATE INDEX "entries_corrects_id_idx" ON "entries"("corrects_id") WHERE "corrects_id" IS NOT NULL;

-- Activity rows, newest first, by type: one row per usage group (its first entry) or single entry.
CREATE INDEX "entries_activity_rows_idx" ON "entries"("account_id", "type", "seq") WHERE "seq" = "group_seq";

-- Entries and their bucket movements are append-only.
CREATE FUNCTION "creditkeeper_forbid_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER "entries_append_only" BEFORE UPDATE OR DELETE ON "entries" FOR EACH ROW EXECUTE FUNCTION "creditkeeper_forbid_change"();
CREATE TRIGGER "movements_append_only" BEFORE UPDATE OR DELETE ON "movements" FOR EACH ROW EXECUTE FUNCTION "creditkeeper_forbid_change"();
