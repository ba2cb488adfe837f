import { messages } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
import { embeddedDatabaseDown } from '../../core/db/databaseErrors.js';

/**
 * What a caller is told while the embedded database's instance is dead, by what killed it (the
 * errors as PGlite and embeddedPostgres.ts make them; the real PANIC is in
 * test/reliability/storageFull.test.ts). The disk: STORAGE_FULL, retry in 30 s. Anything else:
 * DATABASE_UNAVAILABLE "database crashed", retry in 2 s.
 */
function postgresError(severity: string, code: string, message: string) {
  return Object.assign(new messages.DatabaseError(message, message.length, 'error'), { severity, code });
}

describe('the embedded database down', () => {
  it.each([
    ['the WAL write that PANICked on a full disk', postgresError('PANIC', '53100', 'could not write to file "pg_wal/xlogtemp.42": No space left on device'), 'STORAGE_FULL', 'storage full', 30],
    ['a reopening whose recovery found no room for the WAL', new Error('PostgreSQL did not start: could not write to file "pg_wal/xlogtemp.42": No space left on device'), 'STORAGE_FULL', 'storage full', 30],
    ['a PANIC of another cause (a WAL write the disk refused)', postgresError('PANIC', '58030', 'could not write to log file: Input/output error'), 'DATABASE_UNAVAILABLE', 'database crashed', 2],
    ['an aborted WebAssembly', Object.assign(new Error('Aborted(). Build with -sASSERTIONS for more info.'), { name: 'RuntimeError' }), 'DATABASE_UNAVAILABLE', 'database crashed', 2],
    ['a reopening that failed for another reason', new Error('PGlite failed to initialize properly'), 'DATABASE_UNAVAILABLE', 'database crashed', 2],
  ])('%s', (_name, cause, code, reason, retryAfterSeconds) => {
    const failure = embeddedDatabaseDown(cause);
    expect({ code: failure.code, details: failure.details, cause: failure.cause }).toEqual({ code, details: { reason, retryAfterSeconds }, cause });
  });
});
