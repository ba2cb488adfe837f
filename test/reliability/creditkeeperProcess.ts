import { type ChildProcess, spawn } from 'node:child_process';

/** `creditkeeper start` in a process of its own, as deployed: the reliability tests kill it, or the database under it. */
export interface CreditkeeperProcess {
  readonly child: ChildProcess;
  /** Whether it is still running: a crash of its own shows here. */
  readonly running: boolean;
  /** Waits until it answers its readiness probe. */
  ready(): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Processes started and not yet seen to exit: whatever way the test process ends, none outlives it. */
const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

export function startCreditkeeper(databaseUrl: string, port: number): CreditkeeperProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/creditkeeper.ts', 'start'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), LOG_LEVEL: 'silent', DATABASE_POOL_SIZE: '8' },
    stdio: 'ignore',
  });
  started.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => started.delete(child));
  return {
    child,
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    async ready() {
      for (let waited = 0; waited < 60_000; waited += 50) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the Creditkeeper process exited (${child.exitCode ?? child.signalCode}) before it was ready`);
        const reply = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        await reply?.text();
        if (reply?.ok) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('the Creditkeeper process did not become ready within a minute');
    },
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}
