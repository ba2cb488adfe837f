-- A write now reads the state of every account it covers in one prepared statement
-- (core/ledger/writeStatements.ts). The function it replaces planned its queries on every call,
-- which cost three times what running them did.
DROP FUNCTION "creditkeeper_write_state"(UUID, TEXT[], BOOLEAN);
