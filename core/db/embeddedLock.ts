import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CreditkeeperError } from '../errors.js';

/**
 * Two PGlite instances on one data directory silently lose writes, so exactly one process
 * owns it. The lock file names the owner; a lock left by a dead process is taken over.
 */
export interface EmbeddedLock {
  release(): void;
}

const lockFileName = 'creditkeeper.lock';

export function acquireEmbeddedLock(dataDir: string): EmbeddedLock {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, lockFileName);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, since: new Date().toISOString() }));
      closeSync(fd);
      return { release: () => rmSync(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = readOwner(path);
      if (owner && isAlive(owner.pid)) {
        throw new CreditkeeperError(
          'DATABASE_LOCKED',
          `The embedded database in ${dataDir} is in use by process ${owner.pid} (since ${owner.since}). ` +
            'Stop that process, or talk to it through its API, or set DATABASE_URL to use PostgreSQL.',
          { dataDir, ownerPid: owner.pid },
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new CreditkeeperError('DATABASE_LOCKED', `Could not take the lock on ${dataDir}`, { dataDir });
}

function readOwner(path: string): { pid: number; since: string } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { pid: number; since: string };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
