-- A token limited to an organisation goes with it: SET NULL would have left it a token for every account.
ALTER TABLE "api_tokens" DROP CONSTRAINT "api_tokens_organisation_id_fkey";
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_organisation_id_fkey" FOREIGN KEY ("organisation_id") REFERENCES "organisations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
