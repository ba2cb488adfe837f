/**
 * The spend bench's clients: async workers spending in this process, and a second Creditkeeper process on the same
 * database doing the same (group commit is per process). Forked with BENCH_SPEND_WORKER=1, this file is that process.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CoreContext } from '../core/context.js';
import { openDatabase } from '../core/db/database.js';
import { CreditkeeperError } from '../core/errors.js';
import { spend } from '../core/ledger/spend.js';
import { seedPlans } from '../core/plans/planCatalog.js';
import { seedPriceList } from '../core/pricing/priceList.js';

export const spendCharge = { action: 'image', quantity: 1 } as const;

export interface Measurement {
  operations: number;
  seconds: number;
  latenciesMs: number[];
  errors: Record<string, number>;
}

/** Which accounts a run spends on: random ones of the many (all but the hot one), or the hot one alone. */
export type Target = { many: true } | { hot: string };

let keyCounter = 0;

function spendOnce(ctx: CoreContext, accountId: string): Promise<unknown> {
  return spend(ctx, { accountId, idempotencyKey: `bench:${process.pid}:${keyCounter++}`, actor: { kind: 'SERVICE' }, charge: spendCharge });
}

/** Spends from `clients` workers back to back until `seconds` have passed. */
export async function measureSpends(ctx: CoreContext, clients: number, seconds: number, pick: () => string): Promise<Measurement> {
  const latenciesMs: number[] = [];
  const errors: Record<string, number> = {};
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const began = performance.now();
      try {
        await spendOnce(ctx, pick());
        latenciesMs.push(performance.now() - began);
      } catch (error) {
        const code = errorCode(error);
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
  return { operations: latenciesMs.length, seconds: (performance.now() - start) / 1000, latenciesMs, errors };
}

/** `count` unmeasured spends from 8 workers, so connection set-up and first plans stay out of the runs; how many landed. */
export async function warmUp(ctx: CoreContext, count: number, pick: () => string): Promise<number> {
  let left = count;
  let landed = 0;
  const worker = async () => {
    for (; left > 0; left--) {
      await spendOnce(ctx, pick());
      landed += 1;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return landed;
}

export function errorCode(error: unknown): string {
  if (error instanceof CreditkeeperError) return error.code;
  if (error instanceof Error) return `${error.name}: ${error.message.split('\n')[0]!.slice(0, 120)}`;
  return String(error);
}

/** Every account but the hot one and the template the others were copied from, as the database names them. */
export async function manyAccounts(ctx: CoreContext, apart: string[]): Promise<string[]> {
  const rows = await ctx.db.sql.query<{ id: string }>('SELECT id::text AS id FROM accounts WHERE id <> ALL($1::uuid[])', [apart]);
  return rows.map((r) => r.id);
}

export function randomOf(accounts: string[]): () => string {
  return () => accounts[Math.floor(Math.random() * accounts.length)]!;
}

type Request = { kind: 'accounts'; apart: string[] } | { kind: 'warmup'; count: number } | { kind: 'run'; target: Target; clients: number; seconds: number };
type Reply = { kind: 'ready' } | { kind: 'done'; value: unknown } | { kind: 'failed'; reason: string };

/** The second process: its own pool and write engine on the same database, answering one request at a time. */
export interface SecondProcess {
  /** Loads the many accounts again (after seeding more): all but those `apart`. */
  accounts(apart: string[]): Promise<void>;
  warmUp(count: number): Promise<number>;
  run(target: Target, clients: number, seconds: number): Promise<Measurement>;
  close(): Promise<void>;
}

export async function startSecondProcess(url: string, poolSize: number): Promise<SecondProcess> {
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, BENCH_SPEND_WORKER: '1', BENCH_WORKER_URL: url, BENCH_WORKER_POOL: String(poolSize) } });
  const replies: ((reply: Reply) => void)[] = [];
  child.on('message', (reply: Reply) => replies.shift()?.(reply));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the second process exited (${code})`))));
  exited.catch(() => {});
  const next = () => Promise.race([new Promise<Reply>((resolve) => replies.push(resolve)), exited]);
  const ask = async <T>(request: Request): Promise<T> => {
    const reply = next();
    child.send(request);
    const answer = await reply;
    if (answer.kind === 'failed') throw new Error(`second process: ${answer.reason}`);
    return (answer as { value: T }).value;
  };
  const ready = await next();
  if (ready.kind !== 'ready') throw new Error('the second process did not start');
  return {
    accounts: (apart) => ask({ kind: 'accounts', apart }),
    warmUp: (count) => ask({ kind: 'warmup', count }),
    run: (target, clients, seconds) => ask({ kind: 'run', target, clients, seconds }),
    close: () => stop(child),
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.disconnect();
  await gone;
}

async function serve(): Promise<void> {
  const db = await openDatabase({ kind: 'postgres', url: process.env.BENCH_WORKER_URL!, poolSize: Number(process.env.BENCH_WORKER_POOL) });
  const ctx: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
  let accounts: string[] = [];
  let turn = Promise.resolve();
  process.on('message', (request: Request) => {
    turn = turn.then(async () => {
      try {
        let value: unknown;
        if (request.kind === 'accounts') value = void (accounts = await manyAccounts(ctx, request.apart));
        else if (request.kind === 'warmup') value = await warmUp(ctx, request.count, randomOf(accounts));
        else {
          const target = request.target;
          value = await measureSpends(ctx, request.clients, request.seconds, 'hot' in target ? () => target.hot : randomOf(accounts));
        }
        process.send!({ kind: 'done', value } satisfies Reply);
      } catch (error) {
        process.send!({ kind: 'failed', reason: errorCode(error) } satisfies Reply);
      }
    });
  });
  process.once('disconnect', () => void turn.then(() => db.close()));
  process.send!({ kind: 'ready' } satisfies Reply);
}

if (process.env.BENCH_SPEND_WORKER === '1') await serve();
