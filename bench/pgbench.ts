/** pgbench as a yardstick: the same PostgreSQL server's own small write transactions, measured in the same run. */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServerDatabase } from './support.js';

const run = promisify(execFile);

/** pgbench on the PATH, or the newest PostgreSQL's under /usr/lib/postgresql; null when there is none. */
export function findPgbench(): string | null {
  const onPath = (process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => join(dir, 'pgbench')).find((file) => existsSync(file));
  if (onPath) return onPath;
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [];
  return versions
    .sort((a, b) => Number(a) - Number(b))
    .map((version) => join('/usr/lib/postgresql', version, 'bin', 'pgbench'))
    .filter((file) => existsSync(file))
    .at(-1) ?? null;
}

/**
 * `pgbench -N -M prepared` (the simple-update workload, prepared statements like ours) on a
 * database of its own (scale 1, dropped after): transactions a second.
 */
export async function pgbenchPreparedTps(pgbench: string, clients: number, seconds: number): Promise<number> {
  const database = await createServerDatabase('ck_pgbench');
  try {
    await run(pgbench, ['-i', '-s', '1', '-q', database.url]);
    const { stdout } = await run(pgbench, ['-N', '-M', 'prepared', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds), '-n', database.url]);
    const tps = stdout.match(/tps = ([\d.]+) \(without initial connection time\)/);
    if (!tps) throw new Error(`could not read tps from pgbench's output: ${stdout.split('\n').slice(-3).join(' ')}`);
    return Number(tps[1]);
  } finally {
    await database.drop();
  }
}
