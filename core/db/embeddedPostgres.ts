import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import v8 from 'node:v8';
import { PGlite } from '@electric-sql/pglite';
import type { CreditkeeperError } from '../errors.js';
import type { Logger } from '../logger.js';
import { embeddedDatabaseDown } from './databaseErrors.js';

/**
 * PostgreSQL in PGlite, as one handle for the process's life: an instance that PANICs (a full disk)
 * is dead, so calls get 503 while the data directory is reopened (README "What an outage looks like").
 */
export interface EmbeddedPostgres {
  /** Forwards every call to the live instance; while there is none, throws STORAGE_FULL or DATABASE_UNAVAILABLE. */
  readonly pglite: PGlite;
  close(): Promise<void>;
}

/**
 * PGlite zeroes its whole buffer pool at start, so all of shared_buffers stays resident; the OS caches
 * the pages too, so a small pool costs reads little (README "Memory").
 */
const startParams = [
  ...PGlite.defaultStartParams,
  '-c',
  'shared_buffers=16MB',
  // Crash recovery arms a repeating progress timer; a start that fails leaves it armed, and it
  // keeps that dead instance (~60 MB) in memory for good: one per failed reopening.
  '-c',
  'log_startup_progress_interval=0',
];

/** The first reopen waits this long, each next one twice as long, up to the cap. */
const firstReopenAfterMs = 250;
const reopenAtMostEveryMs = 5_000;

/**
 * PostgreSQL's WebAssembly compiled lazily by the optimising compiler only: most of it never runs, and V8's
 * eager baseline compile kept ~60 MB more code resident for the same speed (README "Memory").
 */
function compilePostgresLazily(): void {
  v8.setFlagsFromString('--wasm-lazy-compilation');
  v8.setFlagsFromString('--no-liftoff');
}

/**
 * Runs initdb for a directory without a database in a child process. Done in this process,
 * PGlite keeps what initdb used referenced for good (measured: ~450 MB more resident).
 */
async function createEmbeddedCluster(dataDir: string): Promise<void> {
  if (existsSync(join(dataDir, 'PG_VERSION'))) return;
  const pgliteEntry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const initdb = `const [entry, dir] = process.argv.slice(1);
    require(entry).PGlite.create(dir).then((db) => db.close()).catch((error) => { console.error(String(error)); process.exit(1); });`;
  try {
    await promisify(execFile)(process.execPath, ['-e', initdb, pgliteEntry, dataDir]);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`Could not create the embedded database in ${dataDir}: ${stderr || String(error)}`, { cause: error });
  }
}

/**
 * One PGlite on `dataDir` (in memory without one). PostgreSQL's reason for failing to start is only on
 * its stderr (a FATAL or PANIC line): it becomes the error's message.
 */
async function startInstance(dataDir: string | undefined): Promise<PGlite> {
  let fatal: string | undefined;
  const onStderr = (line: string) => {
    if (/\b(FATAL|PANIC):/.test(line)) fatal = line;
    return false;
  };
  const instance = new PGlite(dataDir, { startParams, onStderr });
  try {
    await instance.waitReady;
    return instance;
  } catch (error) {
    await instance.fs?.closeFs().catch(() => undefined);
    throw fatal ? new Error(`PostgreSQL did not start: ${fatal.replace(/^.*?\b(FATAL|PANIC):\s*/, '')}`, { cause: error }) : error;
  }
}

/** What shows an instance dead: PostgreSQL ended its session or the process, or the WebAssembly aborted. */
function showsCrash(error: unknown): boolean {
  const { severity, name } = (error ?? {}) as { severity?: unknown; name?: unknown };
  // WebAssembly.RuntimeError (an abort, an unreachable trap) and Emscripten's exit of the program.
  return severity === 'PANIC' || severity === 'FATAL' || name === 'RuntimeError' || name === 'ExitStatus';
}

/**
 * The first failure that shows the instance dead is reported (`onCrash`) before the next queued call runs,
 * and no call enters the WebAssembly again: it would spin.
 */
function guardAgainstCrash(instance: PGlite, onCrash: (cause: unknown) => Error): void {
  let dead: Error | undefined;
  const guarded = <Args extends unknown[], Result>(call: (...args: Args) => Result) => {
    const seen = (error: unknown): never => {
      if (!dead && showsCrash(error)) dead = onCrash(error);
      throw error;
    };
    return (...args: Args): Result => {
      if (dead) throw dead;
      try {
        const result = call.apply(instance, args);
        return (result instanceof Promise ? result.catch(seen) : result) as Result;
      } catch (error) {
        return seen(error);
      }
    };
  };
  instance.execProtocolRawSync = guarded(instance.execProtocolRawSync);
  instance.execProtocolStream = guarded(instance.execProtocolStream);
  instance.execProtocol = guarded(instance.execProtocol);
}

/** Opens the embedded database (creating it first in a directory without one), kept open across its crashes until `close`. */
export async function openEmbeddedPostgres(dataDir: string | undefined, logger?: Logger): Promise<EmbeddedPostgres> {
  if (dataDir) await createEmbeddedCluster(dataDir);
  compilePostgresLazily();
  let live: PGlite | undefined;
  /** What every call gets while no instance is live. */
  let down: CreditkeeperError | undefined;
  let closed = false;
  let reopening: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;

  const adopt = (instance: PGlite) => {
    guardAgainstCrash(instance, (cause) => crash(instance, cause));
    live = instance;
    down = undefined;
  };
  const crash = (instance: PGlite, cause: unknown): CreditkeeperError => {
    const failure = embeddedDatabaseDown(cause);
    live = undefined;
    down = failure;
    logger?.error({ err: cause, reason: failure.details.reason }, 'the embedded database crashed: reopening it');
    // Its open files, not its data: nothing more is written through it.
    void instance.fs?.closeFs().catch(() => undefined);
    // An in-memory database ends with its instance: there is nothing to reopen.
    if (dataDir && !closed) reopening = reopen(dataDir);
    return failure;
  };
  const reopen = async (dir: string) => {
    let lastReason: unknown;
    for (let attempt = 1, waitMs = firstReopenAfterMs; !closed; attempt++, waitMs = Math.min(waitMs * 2, reopenAtMostEveryMs)) {
      await new Promise<void>((resolve) => {
        wakeUp = resolve;
        setTimeout(resolve, waitMs).unref();
      });
      if (closed) return;
      try {
        const instance = await startInstance(dir);
        if (closed) {
          await instance.close();
          return;
        }
        adopt(instance);
        logger?.warn({ attempts: attempt }, 'the embedded database is open again: serving');
        return;
      } catch (error) {
        down = embeddedDatabaseDown(error);
        const reason = down.details.reason;
        if (reason !== lastReason) logger?.error({ err: error, reason }, 'the embedded database cannot be reopened yet: retrying');
        lastReason = reason;
      }
    }
  };

  adopt(await startInstance(dataDir));
  const pglite = new Proxy({} as PGlite, {
    get(_target, property) {
      if (property === 'then') return undefined; // not a promise: awaiting it must not reach the instance
      // Every method called on PGlite here is async: while down, each rejects.
      if (!live) return () => Promise.reject(down);
      const value: unknown = Reflect.get(live, property, live);
      return typeof value === 'function' ? value.bind(live) : value;
    },
  });
  return {
    pglite,
    close: async () => {
      closed = true;
      wakeUp?.();
      await reopening;
      await live?.close();
    },
  };
}
