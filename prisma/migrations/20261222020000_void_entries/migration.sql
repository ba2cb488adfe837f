-- VOID: staff take back the unused credits of one grant or purchase (its bucket), naming it.
ALTER TYPE "EntryType" ADD VALUE 'VOID';
