import { createHash, randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreditkeeperError } from '../errors.js';

/**
 * Two PGlite instances on one data directory silently lose writes, so one process owns it. Pid, start time and
 * boot id tell a lock left behind (pid reused, or before a reboot) from a live one (README: One owner).
 */
export interface EmbeddedLock {
  release(): void;
}

/**
 * Who holds a lock file. `startTime` and `bootId` are null where there is no /proc (macOS), and
 * absent from a lock written by a version before them.
 */
interface OwnerRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks from boot to the process's start. */
  startTime?: string | null;
  bootId?: string | null;
  since: string;
}

const lockFileName = 'creditkeeper.lock';
const rivalTakeoverPauseMs = 2;

export function acquireEmbeddedLock(dataDir: string): EmbeddedLock {
  mkdirSync(dataDir, { recursive: true });
  const lockPath = join(dataDir, lockFileName);
  const ownRecord = JSON.stringify({
    pid: process.pid,
    startTime: readStartTime(process.pid) ?? null,
    bootId: readBootId(),
    since: new Date().toISOString(),
  } satisfies OwnerRecord);
  // The record is written in full before it is linked into place, so a lock is never seen half-written.
  const candidatePath = `${lockPath}.candidate-${randomUUID()}`;
  writeFileSync(candidatePath, ownRecord, { flag: 'wx' });
  let liveOwner: OwnerRecord | undefined;
  try {
    liveOwner = claim(lockPath, candidatePath);
  } finally {
    rmSync(candidatePath, { force: true });
  }
  if (liveOwner) {
    throw new CreditkeeperError(
      'DATABASE_LOCKED',
      `The embedded database in ${dataDir} is in use by process ${liveOwner.pid} (since ${liveOwner.since}). ` +
        'Stop that process, or talk to it through its API, or set DATABASE_URL to use PostgreSQL.',
      { dataDir, ownerPid: liveOwner.pid },
    );
  }
  const release = () => {
    process.removeListener('exit', release);
    // Only our own record: never remove a lock another process holds.
    if (readContent(lockPath) === ownRecord) rmSync(lockPath, { force: true });
  };
  process.once('exit', release);
  return { release };
}

/**
 * Links `path` to `candidatePath` (link() fails if the name exists), or returns its live holder. A dead holder is
 * removed only by the winner of its takeover file, claimed the same way, so no one removes a lock just taken.
 */
function claim(path: string, candidatePath: string): OwnerRecord | undefined {
  for (;;) {
    try {
      linkSync(candidatePath, path);
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holderContent = readContent(path);
    if (holderContent === undefined) continue; // released since the link failed
    const holder = parseRecord(holderContent);
    if (holder && isLive(holder)) return holder;
    const takeoverPath = `${path}.takeover-${createHash('sha256').update(holderContent).digest('hex').slice(0, 16)}`;
    if (claim(takeoverPath, candidatePath)) {
      // Another process is replacing this holder: see what it leaves in a moment.
      sleepSync(rivalTakeoverPauseMs);
      continue;
    }
    try {
      if (readContent(path) === holderContent) unlinkSync(path);
    } finally {
      rmSync(takeoverPath, { force: true });
    }
  }
}

function isLive(owner: OwnerRecord): boolean {
  if (owner.bootId !== undefined && owner.bootId !== readBootId()) return false; // written before a reboot
  if (!pidExists(owner.pid)) return false;
  const startTime = readStartTime(owner.pid);
  // /proc/<pid> hidden (hidepid) or absent: the pid is all there is to go on.
  if (startTime === undefined) return true;
  if (owner.startTime === undefined) return startedBefore(startTime, owner.since);
  return owner.startTime === startTime; // otherwise the pid was reused
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readStartTime(pid: number): string | undefined {
  const stat = readContent(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces and parentheses: count fields from its closing one.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3];
}

function readBootId(): string | null {
  return readContent('/proc/sys/kernel/random/boot_id')?.trim() ?? null;
}

/**
 * For a lock written before records carried a start time (only pid and since): its pid is the
 * owner's only if that process was already running when the lock was taken.
 */
function startedBefore(startTime: string, since: string): boolean {
  const bootSeconds = Number(/^btime (\d+)$/m.exec(readContent('/proc/stat') ?? '')?.[1]);
  const clockTicksPerSecond = 100; // USER_HZ, fixed by the kernel ABI on every architecture Node runs on
  const startedAtMs = bootSeconds * 1000 + (Number(startTime) * 1000) / clockTicksPerSecond;
  return !(startedAtMs > Date.parse(since) + 1000); // btime is whole seconds; unknown dates count as before
}

/** Anything else in the lock file (empty, cut short, not ours) names no owner and is taken over. */
function parseRecord(content: string): OwnerRecord | undefined {
  try {
    const record = JSON.parse(content) as Partial<OwnerRecord> | null;
    // pid 0 or a negative pid would make kill() signal a whole process group.
    if (typeof record?.pid !== 'number' || !Number.isSafeInteger(record.pid) || record.pid <= 0) return undefined;
    return { ...record, pid: record.pid, since: String(record.since) };
  } catch {
    return undefined;
  }
}

function readContent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}
