/** What the benchmarks share: a statement on the server itself, timing, percentiles. */
import pg from 'pg';

export const benchServerUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://root@127.0.0.1:5432/test';

/** Runs one statement (CREATE/DROP DATABASE) on the bench server's maintenance database. */
export async function onServer(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: benchServerUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
