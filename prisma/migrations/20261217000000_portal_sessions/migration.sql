-- The users' own credits page (/portal): the host mints a one-time link for one user and one
-- account; opening it once turns it into a session cookie. Both secrets are kept as hashes only.
CREATE TABLE "portal_sessions" (
    "link_hash" TEXT NOT NULL,
    "session_hash" TEXT,
    "account_id" UUID NOT NULL,
    "user_external_id" TEXT NOT NULL,
    "store_url" TEXT,
    "embed_origin" TEXT,
    "locale" TEXT NOT NULL,
    "time_zone" TEXT NOT NULL,
    "page_size" INTEGER NOT NULL DEFAULT 25,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "link_expires_at" TIMESTAMPTZ(3) NOT NULL,
    "opened_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "portal_sessions_pkey" PRIMARY KEY ("link_hash")
);

CREATE UNIQUE INDEX "portal_sessions_session_hash_key" ON "portal_sessions"("session_hash");

ALTER TABLE "portal_sessions" ADD CONSTRAINT "portal_sessions_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE;
