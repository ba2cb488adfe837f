import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, closeSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './freePort.js';

/**
 * A PostgreSQL cluster of a test's own, in a temporary directory on a free port, for tests that
 * crash, freeze or restart the server — which the shared server at TEST_DATABASE_URL must never be.
 * Its superuser is `root` (trust over 127.0.0.1 only); it runs as the `postgres` user, since
 * PostgreSQL refuses to run as root.
 */
export interface PrivateCluster {
  readonly port: number;
  readonly dataDir: string;
  /** The postmaster's pid, undefined while the server is down. */
  readonly pid: number | undefined;
  /** A connection string to one of its databases (`postgres` unless named). */
  url(database?: string): string;
  createDatabase(name: string): Promise<string>;
  /** Starts the server and waits until it accepts connections (after crash recovery, if it needs one). */
  start(): Promise<void>;
  /**
   * SIGKILL: the postmaster alone (its backends finish what they are doing, notice it is gone and
   * exit), or `everything`, every process of the cluster at once (transactions cut mid-commit).
   * Returns when none of its processes is left.
   */
  kill(what?: 'postmaster' | 'everything'): Promise<void>;
  /** SIGSTOP / SIGCONT to all its processes: a server that neither answers nor refuses. */
  pause(): void;
  resume(): void;
  /** Fast shutdown (SIGINT), waiting for it. */
  stop(): Promise<void>;
  /** Kills whatever is left and deletes the directory; it cannot be started again. */
  remove(): Promise<void>;
  /** The end of the server's log, for failure messages. */
  logTail(lines?: number): string;
}

const binDir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
const postgresUser = { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) };

/** Clusters not yet removed: if the test process exits without removing one, the exit hook does. */
const live = new Set<{ dataDir: string; root: string }>();
let exitHookInstalled = false;

/**
 * initdb into a fresh temporary directory and start the server there; or, `standbyOf` another
 * cluster, a hot standby streaming from it (its base backup, standby.signal and primary_conninfo).
 */
export async function startPrivateCluster(options: { settings?: Record<string, string>; standbyOf?: PrivateCluster } = {}): Promise<PrivateCluster> {
  // Real path: its processes are found by their working directory, which the kernel reports resolved.
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'ck-pg-cluster-')));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'server.log');
  chownSync(root, postgresUser.uid, postgresUser.gid);
  const registered = { dataDir, root };
  live.add(registered);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const cluster of live) {
        for (const pid of processesIn(cluster.dataDir)) signal(pid, 'SIGKILL');
        rmSync(cluster.root, { recursive: true, force: true });
      }
    });
  }
  // --no-sync: a process crash never loses what the kernel was given; a power cut is not what these tests make.
  if (options.standbyOf) {
    // -c fast: a spread checkpoint on the primary would make the backup wait minutes.
    const from = ['-h', '127.0.0.1', '-p', String(options.standbyOf.port), '-U', 'root'];
    execFileSync(join(binDir, 'pg_basebackup'), ['-D', dataDir, ...from, '-R', '-X', 'stream', '-c', 'fast', '--no-sync'], { ...postgresUser, cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  } else {
    execFileSync(join(binDir, 'initdb'), ['-D', dataDir, '-U', 'root', '--auth=trust', '-E', 'UTF8', '--no-sync'], { ...postgresUser, cwd: root, stdio: 'ignore' });
  }
  const port = await freePort();
  const settings = { listen_addresses: '127.0.0.1', port: String(port), unix_socket_directories: '', ...options.settings };
  let postmaster: ChildProcess | undefined;
  // A test that timed out may still be running after its cleanup: it must not bring the server back.
  let removed = false;

  const url = (database = 'postgres') => `postgresql://root@127.0.0.1:${port}/${database}`;
  const logTail = (lines = 20) => readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  const exited = (child: ChildProcess) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve())));

  const spawnPostmaster = (): ChildProcess => {
    const log = openSync(logFile, 'a');
    try {
      const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
      return spawn(join(binDir, 'postgres'), args, { ...postgresUser, cwd: dataDir, stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
  };

  const cluster: PrivateCluster = {
    port,
    dataDir,
    get pid() {
      return postmaster?.exitCode === null && postmaster.signalCode === null ? postmaster.pid : undefined;
    },
    url,
    async createDatabase(name) {
      const admin = new pg.Client({ connectionString: url() });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    async start() {
      for (const startedAt = Date.now(); ; ) {
        if (removed) throw new Error('the private PostgreSQL was removed');
        const child = spawnPostmaster();
        postmaster = child;
        let down = false;
        void exited(child).then(() => (down = true));
        while (!down) {
          const probe = new pg.Client({ connectionString: url(), connectionTimeoutMillis: 1000 });
          const answered = await probe.connect().then(() => probe.query('SELECT 1')).then(() => true, () => false);
          await probe.end().catch(() => {});
          if (answered) return;
          if (Date.now() - startedAt > 60_000) throw new Error(`the private PostgreSQL did not start within a minute:\n${logTail()}`);
          await sleep(50);
        }
        // It exits at once when a process of its previous life still holds the shared memory: try again.
        if (Date.now() - startedAt > 60_000) throw new Error(`the private PostgreSQL exited while starting:\n${logTail()}`);
        await sleep(100);
      }
    },
    async kill(what = 'postmaster') {
      const child = postmaster;
      if (what === 'everything') for (const pid of processesIn(dataDir)) signal(pid, 'SIGKILL');
      else if (child?.pid) signal(child.pid, 'SIGKILL');
      if (child) await exited(child);
      for (let waited = 0; processesIn(dataDir).length > 0; waited += 20) {
        // A backend in the middle of a long statement only notices at its end; do not wait for ever.
        if (waited > 30_000) for (const pid of processesIn(dataDir)) signal(pid, 'SIGKILL');
        await sleep(20);
      }
    },
    pause() {
      for (const pid of processesIn(dataDir)) signal(pid, 'SIGSTOP');
    },
    resume() {
      for (const pid of processesIn(dataDir)) signal(pid, 'SIGCONT');
    },
    async stop() {
      const child = postmaster;
      if (!child || cluster.pid === undefined) return;
      cluster.resume();
      signal(child.pid!, 'SIGINT');
      await exited(child);
    },
    async remove() {
      removed = true;
      await cluster.kill('everything');
      rmSync(root, { recursive: true, force: true });
      live.delete(registered);
    },
    logTail,
  };
  await cluster.start();
  return cluster;
}

/** Every live process working in the cluster's directory: the postmaster and its children, even orphaned (zombies have no cwd). */
function processesIn(dataDir: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/cwd`) === dataDir;
      } catch {
        return false; // gone, or a zombie
      }
    })
    .map(Number);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
