import pg from 'pg';

/**
 * The ledger suite runs on real PostgreSQL as well as PGlite. PostgreSQL runs on every machine
 * of this project; without it the suite fails loudly rather than quietly testing less.
 */
export default async function setup(): Promise<void> {
  process.env.TEST_DATABASE_URL ??= 'postgresql://root@127.0.0.1:5432/test';
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new Error(
      `PostgreSQL at TEST_DATABASE_URL (${process.env.TEST_DATABASE_URL}) is not reachable: ${(error as Error).message}. ` +
        'Start it (see README) or point TEST_DATABASE_URL at one.',
    );
  } finally {
    await client.end().catch(() => {});
  }
}
