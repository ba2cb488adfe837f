-- Plans and subscriptions, linked chat identities and their one-time reward, auto-reload.

-- CreateEnum
CREATE TYPE "SubscriptionStatus" AS ENUM ('ACTIVE', 'CANCELLED');

-- CreateEnum
CREATE TYPE "IdentityProvider" AS ENUM ('DISCORD', 'SLACK');

-- CreateTable
CREATE TABLE "subscriptions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "account_id" UUID NOT NULL,
    "plan" TEXT NOT NULL,
    "status" "SubscriptionStatus" NOT NULL DEFAULT 'ACTIVE',
    "time_zone" TEXT NOT NULL DEFAULT 'UTC',
    "anchor_at" TIMESTAMPTZ(3) NOT NULL,
    "period_index" INTEGER NOT NULL DEFAULT 0,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "period_end" TIMESTAMPTZ(3) NOT NULL,
    "cancelled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "subscriptions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "subscriptions_period_check" CHECK ("period_start" < "period_end" AND "period_index" >= 0)
);

-- CreateTable
CREATE TABLE "linked_identities" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" UUID NOT NULL,
    "provider" "IdentityProvider" NOT NULL,
    "external_id" TEXT NOT NULL,
    "linked_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "unlinked_at" TIMESTAMPTZ(3),

    CONSTRAINT "linked_identities_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "link_codes" (
    "code_hash" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "provider" "IdentityProvider" NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),

    CONSTRAINT "link_codes_pkey" PRIMARY KEY ("code_hash")
);

-- CreateTable
CREATE TABLE "link_rewards" (
    "provider" "IdentityProvider" NOT NULL,
    "external_id" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "link_rewards_pkey" PRIMARY KEY ("provider","external_id")
);

-- CreateTable
CREATE TABLE "auto_reload_settings" (
    "account_id" UUID NOT NULL,
    "enabled" BOOLEAN NOT NULL,
    "amount" BIGINT NOT NULL,
    "monthly_limit" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "auto_reload_settings_pkey" PRIMARY KEY ("account_id"),
    CONSTRAINT "auto_reload_settings_amounts_check" CHECK ("amount" > 0 AND "monthly_limit" >= 0)
);

-- CreateIndex
CREATE UNIQUE INDEX "subscriptions_account_id_key" ON "subscriptions"("account_id");

-- CreateIndex
CREATE INDEX "subscriptions_status_period_end_idx" ON "subscriptions"("status", "period_end");

-- CreateIndex
CREATE INDEX "linked_identities_user_id_idx" ON "linked_identities"("user_id");

-- CreateIndex
CREATE INDEX "linked_identities_provider_external_id_idx" ON "linked_identities"("provider", "external_id");

-- One live link per chat identity, and per user and provider (partial: unlinked rows stay as history).
CREATE UNIQUE INDEX "linked_identities_live_identity_idx" ON "linked_identities"("provider", "external_id") WHERE "unlinked_at" IS NULL;
CREATE UNIQUE INDEX "linked_identities_live_user_idx" ON "linked_identities"("user_id", "provider") WHERE "unlinked_at" IS NULL;

-- CreateIndex
CREATE UNIQUE INDEX "link_rewards_user_id_provider_key" ON "link_rewards"("user_id", "provider");

-- AddForeignKey
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "linked_identities" ADD CONSTRAINT "linked_identities_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "link_codes" ADD CONSTRAINT "link_codes_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "link_rewards" ADD CONSTRAINT "link_rewards_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "auto_reload_settings" ADD CONSTRAINT "auto_reload_settings_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- A reward claim is history: never changed, never removed.
CREATE TRIGGER link_rewards_append_only BEFORE UPDATE OR DELETE ON "link_rewards"
    FOR EACH ROW EXECUTE FUNCTION "creditkeeper_forbid_change"();
