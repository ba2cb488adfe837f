/** What the benchmarks share: their own databases on the bench server, timing, percentiles. */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Database } from '../core/db/database.js';
import type { SqlSession } from '../core/db/sqlRunner.js';

export const benchServerUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://root@127.0.0.1:5432/test';

/** Runs one statement on the bench server's maintenance database (CREATE/DROP DATABASE, CHECKPOINT…). */
export async function adminQuery<Row extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: benchServerUrl });
  await client.connect();
  try {
    return (await client.query<Row>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export interface ServerDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A new, empty database on the bench server; `drop()` removes it even with sessions still open. */
export async function createServerDatabase(prefix: string): Promise<ServerDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(benchServerUrl);
  url.pathname = `/${name}`;
  const drop = async () => {
    await sessionsGone(name);
    await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  };
  return { name, url: url.toString(), drop };
}

/**
 * Waits (up to 5 s) for the server to see closed connections go: `pool.end()` resolves before the
 * server has ended those sessions, and a FORCE drop would otherwise terminate them under a pool.
 */
async function sessionsGone(database: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const [row] = await adminQuery<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [database]);
    if (row!.n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

/** The `percent`th percentile of sorted samples (null when there are none). */
export function percentile(sorted: number[], percent: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((percent / 100) * sorted.length) - 1)]!;
}

/**
 * Waits (up to two minutes) until a server the bench started answers /readyz; fails at once,
 * with the last line it wrote on stderr, if it exits first.
 */
export async function untilReady(base: string, server: ChildProcess, stderr: () => string = () => ''): Promise<void> {
  for (let waited = 0; waited < 120_000; waited += 200) {
    if (server.exitCode !== null) throw new Error(`the server exited before it was ready: ${lastLine(stderr())}`);
    const reply = await fetch(`${base}/readyz`).catch(() => undefined);
    await reply?.text();
    if (reply?.ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the server did not become ready within two minutes');
}

export function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) || '(nothing on stderr)';
}

/** What a failed benchmark prints: the error's first line, never a stack. */
export function failureReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.trim() || (error instanceof Error ? error.name : 'unknown error');
}

/**
 * Runs a benchmark's main: a failure prints `<name> bench failed: <reason>` on one line and sets
 * exit code 1, never a stack (a loaded machine makes benchmarks fail for reasons worth one line).
 */
export async function runBenchmark(name: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    console.log(`${name} bench failed: ${failureReason(error)}`);
    process.exitCode = 1;
  }
}

/**
 * Bulk seeding on one session without the pool's statement timeout: one statement writing a
 * hundred thousand rows may outlast any a request is allowed, the more so on a loaded machine.
 */
export function seedingSession<T>(db: Database, work: (session: SqlSession) => Promise<T>): Promise<T> {
  return db.sql.withSession(async (session) => {
    await session.exec('SET statement_timeout = 0');
    try {
      return await work(session);
    } finally {
      await session.exec('RESET statement_timeout');
    }
  });
}
