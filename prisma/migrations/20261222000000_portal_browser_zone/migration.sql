-- Where a credits page session's time zone came from: the host named it, it is the one
-- Creditkeeper knows for the user ('account'), or the viewer's browser reported it. Only an
-- 'account' zone is replaced by the browser's: a zone the host chose stays.
ALTER TABLE "portal_sessions" ADD COLUMN "time_zone_source" TEXT NOT NULL DEFAULT 'account';
ALTER TABLE "portal_sessions" ADD CONSTRAINT "portal_sessions_time_zone_source_check" CHECK ("time_zone_source" IN ('host', 'account', 'browser'));
