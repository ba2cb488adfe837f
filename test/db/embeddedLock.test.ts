import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../core/db/database.js';
import { acquireEmbeddedLock } from '../../core/db/embeddedLock.js';
import { isCreditkeeperError } from '../../core/errors.js';
import type { RacerCommand, RacerReply } from './embeddedLockRacer.js';
import { tempDir } from '../support/tempDir.js';

describe('one owner for the embedded database', () => {
  it('a second opener of the same data directory is refused with a message naming the owner', async () => {
    const dataDir = tempDir('ck-data-');
    const owner = await openDatabase({ kind: 'embedded', dataDir });
    try {
      const error = await openDatabase({ kind: 'embedded', dataDir }).catch((e: unknown) => e);
      expect(isCreditkeeperError(error, 'DATABASE_LOCKED')).toBe(true);
      expect((error as Error).message).toContain(`process ${process.pid}`);

      // Another process (the CLI) stops with the same clear message and a non-zero exit.
      const cli = spawnSync(process.execPath, ['--import', 'tsx', 'cli/creditkeeper.ts', 'verify'], {
        env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '' },
        encoding: 'utf8',
      });
      expect(cli.status).toBe(2);
      expect(cli.stderr).toContain('DATABASE_LOCKED');
      expect(cli.stderr).toContain(`in use by process ${process.pid}`);
    } finally {
      await owner.close();
    }
    // Closed: the next opener gets it, and what the first wrote is there.
    const next = await openDatabase({ kind: 'embedded', dataDir });
    await next.close();
  });

  it('a lock left by a process that died is taken over', async () => {
    const dataDir = tempDir('ck-data-');
    writeFileSync(join(dataDir, 'creditkeeper.lock'), JSON.stringify({ pid: 2_147_483_000, since: '2026-01-01T00:00:00Z' }));
    const db = await openDatabase({ kind: 'embedded', dataDir });
    await db.close();
  });

  it('writes survive closing and reopening', async () => {
    const dataDir = tempDir('ck-data-');
    const first = await openDatabase({ kind: 'embedded', dataDir });
    await first.prisma.user.create({ data: { externalId: 'survivor' } });
    await first.close();
    const second = await openDatabase({ kind: 'embedded', dataDir });
    expect(await second.prisma.user.count({ where: { externalId: 'survivor' } })).toBe(1);
    await second.close();
  });
});

/** Field 22 of /proc/<pid>/stat, counted from the end of the command name, which may hold spaces. */
function procStartTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const since = '2026-01-01T00:00:00.000Z';
/** A pid whose process has exited. */
const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
const recordOf = (owner: object) => JSON.stringify({ bootId, since, ...owner });

/** Locks that name no live owner, each as some earlier process could have left it. */
const staleLocks: Array<{ left: string; write(lockPath: string): void }> = [
  { left: 'by a process that died', write: (path) => writeFileSync(path, recordOf({ pid: deadPid, startTime: '1' })) },
  {
    left: 'naming pid 1, a live but unrelated process',
    write: (path) => writeFileSync(path, recordOf({ pid: 1, startTime: `${procStartTime(1)}0` })),
  },
  {
    left: 'naming this test process with another start time (its pid reused)',
    write: (path) => writeFileSync(path, recordOf({ pid: process.pid, startTime: `${procStartTime(process.pid)}0` })),
  },
  {
    left: 'before a reboot, by a process whose pid and start time are this test process’s',
    write: (path) => writeFileSync(path, recordOf({ pid: process.pid, startTime: procStartTime(process.pid), bootId: 'another-boot' })),
  },
  {
    left: 'by an earlier version (pid and since only), naming this test process, which started later',
    write: (path) => writeFileSync(path, JSON.stringify({ pid: process.pid, since })),
  },
  { left: 'cut short', write: (path) => writeFileSync(path, '{"pid":') },
  {
    left: 'by a process that died, with the takeover of a process that died half way through replacing it',
    write: (path) => {
      const content = recordOf({ pid: deadPid, startTime: '1' });
      writeFileSync(path, content);
      const takeoverPath = `${path}.takeover-${createHash('sha256').update(content).digest('hex').slice(0, 16)}`;
      writeFileSync(takeoverPath, recordOf({ pid: deadPid, startTime: '2' }));
    },
  },
];

class Racer {
  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {}

  static async start(): Promise<Racer> {
    const child = fork(join(import.meta.dirname, 'embeddedLockRacer.ts'), [], { execArgv: ['--import', 'tsx'] });
    const ready = await nextReply(child);
    return new Racer(child, ready.pid);
  }

  command(command: RacerCommand): Promise<RacerReply> {
    const reply = nextReply(this.child);
    this.child.send(command);
    return reply;
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill(signal);
    await exited;
  }

  async exit(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ kind: 'exit' } satisfies RacerCommand);
    await exited;
  }
}

function nextReply(child: ChildProcess): Promise<RacerReply> {
  return new Promise((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`racer ${child.pid} exited (${code}) before replying`));
    child.once('exit', exited);
    child.once('message', (reply: RacerReply) => {
      child.off('exit', exited);
      resolve(reply);
    });
  });
}

describe('one owner for the embedded database, however many processes start at once', () => {
  const racerCount = 8;
  // 50 rounds take about 3 s on two cores (500 about 26 s); EMBEDDED_LOCK_ROUNDS asks for more or fewer.
  const rounds = Number(process.env.EMBEDDED_LOCK_ROUNDS ?? 50);
  let racers: Racer[] = [];
  beforeAll(async () => {
    racers = await Promise.all(Array.from({ length: racerCount }, () => Racer.start()));
  });
  afterAll(async () => {
    await Promise.all(racers.map((racer) => racer.kill()));
  });

  it(`${racerCount} processes starting at the same instant over a stale lock: exactly one owner, ${rounds} rounds`, async () => {
    const failures: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const stale = staleLocks[round % staleLocks.length]!;
      const dataDir = tempDir('ck-lock-race-');
      const lockPath = join(dataDir, 'creditkeeper.lock');
      stale.write(lockPath);
      const startAt = Date.now() + 40;
      const replies = await Promise.all(racers.map((racer) => racer.command({ kind: 'acquire', dataDir, startAt })));
      const owners = replies.filter((reply) => reply.kind === 'acquired');
      const outcome = `round ${round}, lock left ${stale.left}`;
      if (owners.length !== 1) failures.push(`${outcome}: ${owners.length} owners`);
      const owner = owners[0];
      if (owner) {
        const named = readFileSync(lockPath, 'utf8');
        if (JSON.parse(named).pid !== owner.pid) failures.push(`${outcome}: the lock names ${named}, the owner is ${owner.pid}`);
        for (const reply of replies) {
          if (reply.kind === 'refused' && !reply.message.includes(`is in use by process ${owner.pid} `)) failures.push(`${outcome}: ${reply.message}`);
        }
      }
      await Promise.all(owners.map((acquired) => racers.find((racer) => racer.pid === acquired.pid)!.command({ kind: 'release' })));
      if (existsSync(lockPath)) failures.push(`${outcome}: a lock is left after the owners released theirs`);
    }
    expect(failures).toEqual([]);
  });

  it.each(staleLocks)('a lock left $left is taken over', ({ write }) => {
    const dataDir = tempDir('ck-lock-');
    const lockPath = join(dataDir, 'creditkeeper.lock');
    write(lockPath);
    const lock = acquireEmbeddedLock(dataDir);
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid: process.pid, startTime: procStartTime(process.pid), bootId });
    lock.release();
    expect(existsSync(lockPath)).toBe(false);
  });

  it('a lock held by a live process refuses the next; when that process exits, its lock goes with it', async () => {
    const dataDir = tempDir('ck-lock-');
    const holder = await Racer.start();
    expect(await holder.command({ kind: 'acquire', dataDir, startAt: Date.now() })).toMatchObject({ kind: 'acquired' });
    const error = (() => {
      try {
        acquireEmbeddedLock(dataDir);
      } catch (caught) {
        return caught;
      }
    })();
    expect(isCreditkeeperError(error, 'DATABASE_LOCKED')).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`^The embedded database in ${dataDir} is in use by process ${holder.pid} `));

    await holder.exit();
    expect(existsSync(join(dataDir, 'creditkeeper.lock'))).toBe(false);
  });

  it('a lock left by a process that was killed is taken over', async () => {
    const dataDir = tempDir('ck-lock-');
    const holder = await Racer.start();
    expect(await holder.command({ kind: 'acquire', dataDir, startAt: Date.now() })).toMatchObject({ kind: 'acquired' });
    await holder.kill('SIGKILL');
    expect(JSON.parse(readFileSync(join(dataDir, 'creditkeeper.lock'), 'utf8'))).toMatchObject({ pid: holder.pid });
    acquireEmbeddedLock(dataDir).release();
  });
});
