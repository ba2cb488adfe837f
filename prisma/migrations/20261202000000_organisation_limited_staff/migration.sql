-- A staff member signed in with an organisation-limited ADMIN token, or with a link made for one
-- organisation, reaches only that organisation's accounts for the whole session.
ALTER TABLE "admin_sessions" ADD COLUMN "organisation_id" UUID;
ALTER TABLE "login_links" ADD COLUMN "organisation_id" UUID;

ALTER TABLE "admin_sessions" ADD CONSTRAINT "admin_sessions_organisation_id_fkey" FOREIGN KEY ("organisation_id") REFERENCES "organisations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "login_links" ADD CONSTRAINT "login_links_organisation_id_fkey" FOREIGN KEY ("organisation_id") REFERENCES "organisations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
