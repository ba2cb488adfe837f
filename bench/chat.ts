/**
 * Chat command benchmark: how long the user's chat commands take on an account with a long
 * history, measured the way a transport runs them — `dispatch` with a console caller, then the
 * view rendered as text — so option parsing, the account lookup, the core reads and rendering
 * are all inside the time.
 *
 * On PGlite (in memory) and then on a fresh PostgreSQL database, it writes one user's history of
 * BENCH_CHAT_ENTRIES entries (default 100,000) through the ledger's own use-cases (grant, purchase,
 * spend), checks it with the ledger verifier, and times, each BENCH_CHAT_REPEATS times (default
 * 30): /credits, /activity (first page, page 40 reached by following the cursors, filter:used),
 * /why, /why expected:<balance + 100>, /usage. It prints median and p95 per command, with the p95
 * as a share of Discord's 3-second deadline, and writes bench/results/chat-latest.json. Nothing
 * asserts a timing.
 *
 * Then (bench/chatTransports.ts) /credits, /activity and /why go through the real transports
 * on the same account, BENCH_CHAT_REPEATS times each: Slack as startChat starts it on the admin
 * app (a signed slash-command POST: until its HTTP response, and until the ephemeral reply
 * reaches the response_url), and the Discord bot fed raw interactions (until the deferral
 * callback, and until the edit that carries the answer), Slack and Discord answered on loopback.
 * Their table follows the dispatch table, and they are in the results file under `transports`.
 *
 * The history is written now, in seconds, so /usage sees one busy day rather than months; /why,
 * with no plan or weekly grant to start from, explains the whole history (its worst case). While
 * writing, the entries table is analysed every 10,240 entries, and vacuumed and analysed before
 * timing: the statistics autovacuum would keep on a long-lived server.
 *
 * Knobs: BENCH_CHAT_ENTRIES, BENCH_CHAT_REPEATS, BENCH_DATABASE_URL.
 */
import { answerChatApis, printTransportTable, timeTransports, transportMoments } from './chatTransports.js';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openAccount } from '../core/accounts/openAccount.js';
import type { CoreContext } from '../core/context.js';
import { type Database, openDatabase } from '../core/db/database.js';
import { getBalance } from '../core/ledger/getBalance.js';
import { grant } from '../core/ledger/grant.js';
import { purchase } from '../core/ledger/purchase.js';
import { spend } from '../core/ledger/spend.js';
import { verifyLedger } from '../core/ledger/verify.js';
import { createLogger } from '../core/logger.js';
import { seedPriceList } from '../core/pricing/priceList.js';
import { seedPlans } from '../core/plans/planCatalog.js';
import type { Caller } from '../bot/command.js';
import { dispatch } from '../bot/dispatch.js';
import { renderText } from '../bot/text/renderText.js';
import type { View } from '../bot/views.js';
import { createServerDatabase, percentile, runBenchmark, timed } from './support.js';

const entries = Number(process.env.BENCH_CHAT_ENTRIES ?? 100_000);
const repeats = Number(process.env.BENCH_CHAT_REPEATS ?? 30);
/** Discord drops an interaction not answered within 3 s (the bot defers at once; this is the yardstick). */
const discordDeadlineMs = 3_000;
/** Writes in flight at once while building the history: on one account they queue and commit together, in call order. */
const writeBatch = 256;
/** One action per run of four spends, each in its own category, so activity shows rows of four. */
const spendActions = ['chat', 'image', 'photo_processing'];
const topUpEvery = 10_000;
const userExternalId = 'long-history';

interface Engine {
  name: string;
  open(): Promise<{ db: Database; cleanup(): Promise<void> }>;
}

const engines: Engine[] = [
  {
    name: 'PGlite',
    open: async () => {
      const db = await openDatabase({ kind: 'memory' });
      return { db, cleanup: () => db.close() };
    },
  },
  {
    name: 'PostgreSQL',
    open: async () => {
      const database = await createServerDatabase('ck_bench_chat');
      const db = await openDatabase({ kind: 'postgres', url: database.url });
      return {
        db,
        cleanup: async () => {
          await db.close();
          await database.drop();
        },
      };
    },
  },
];

/** One chat command as the user would type it. */
interface ChatCall {
  label: string;
  name: string;
  options: Record<string, string>;
}

async function main(): Promise<void> {
  const logger = createLogger('warn');
  const stopAnswering = answerChatApis();
  const runs = [];
  for (const engine of engines) {
    const { db, cleanup } = await engine.open();
    const ctx: CoreContext = { db, priceList: seedPriceList, plans: seedPlans };
    try {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: userExternalId } });
      const written = await timed(() => writeHistory(ctx, accountId));
      console.log(`${engine.name}: wrote ${entries.toLocaleString('en')} entries through the use-cases in ${(written.ms / 1000).toFixed(1)} s`);
      const verified = await timed(() => verifyLedger(db));
      if (!verified.value.ok) throw new Error(`the history breaks invariants: ${JSON.stringify(verified.value.checks.filter((c) => c.violations.length))}`);
      console.log(`${engine.name}: verified the ledger (${verified.value.entries.toLocaleString('en')} entries) in ${(verified.ms / 1000).toFixed(1)} s`);
      // Steady state, as in the reports benchmark: the visibility map and statistics a long-lived database has.
      await db.sql.exec('VACUUM ANALYZE');

      const run = (name: string, options: Record<string, string>) => dispatch(ctx, logger, consoleCaller(), name, options);
      const { balance } = await getBalance(ctx, { accountId });
      // Page 40 as a user reaches it: following each page's cursor, as the Next button does.
      let cursor: string | null = null;
      for (let page = 1; page < 40; page++) {
        cursor = activityPage(await run('activity', cursor ? { page: cursor } : {})).next;
        if (!cursor) throw new Error(`the history has only ${page} activity pages`);
      }
      const { showing } = activityPage(await run('activity', { page: cursor! }));
      const calls: ChatCall[] = [
        { label: '/credits', name: 'credits', options: {} },
        { label: '/activity', name: 'activity', options: {} },
        { label: `/activity page 40 (${showing.from}–${showing.to} of ${showing.total.toLocaleString('en')})`, name: 'activity', options: { page: cursor! } },
        { label: '/activity filter:used', name: 'activity', options: { filter: 'used' } },
        { label: '/why', name: 'why', options: {} },
        { label: `/why expected:${balance + 100n}`, name: 'why', options: { expected: String(balance + 100n) } },
        { label: '/usage', name: 'usage', options: {} },
      ];
      const results = [];
      for (const call of calls) {
        const warm = await run(call.name, call.options);
        if (warm.kind === 'error') throw new Error(`${call.label} answered an error: ${warm.text}`);
        const times: number[] = [];
        for (let i = 0; i < repeats; i++) times.push((await timed(async () => renderText(await run(call.name, call.options)))).ms);
        times.sort((a, b) => a - b);
        results.push({ command: call.label, medianMs: percentile(times, 50)!, p95Ms: percentile(times, 95)!, repeats });
      }
      // The same commands through the real Slack and Discord transports (after the link, which pays Discord's reward: one entry more).
      const transports = await timeTransports(ctx, logger, userExternalId, repeats);
      runs.push({ engine: engine.name, writeSeconds: written.ms / 1000, verifySeconds: verified.ms / 1000, results, transports });
    } finally {
      await cleanup();
    }
  }
  stopAnswering();

  console.log(`\n${'engine'.padEnd(10)} ${'command'.padEnd(36)} ${'median ms'.padStart(10)} ${'p95 ms'.padStart(8)} ${'p95 of 3 s'.padStart(10)}`);
  for (const { engine, results } of runs) {
    for (const r of results) {
      const share = `${((r.p95Ms / discordDeadlineMs) * 100).toFixed(1)}%`;
      console.log(`${engine.padEnd(10)} ${r.command.padEnd(36)} ${r.medianMs.toFixed(2).padStart(10)} ${r.p95Ms.toFixed(2).padStart(8)} ${share.padStart(10)}`);
    }
  }
  printTransportTable(runs, discordDeadlineMs);
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'chat-latest.json'), JSON.stringify({ at: new Date().toISOString(), entries, repeats, discordDeadlineMs, transportMoments, runs }, null, 2));
}

/**
 * The history, entry i written by the use-case a real account would have used: a signup bonus, a
 * purchase covering every spend, spends in runs of four of one action, and a small top-up every
 * 10,000 entries (rare Added rows). No plan or weekly grant: /why starts from the opening.
 */
async function writeHistory(ctx: CoreContext, accountId: string): Promise<void> {
  const write = (i: number): Promise<unknown> => {
    const base = { accountId, idempotencyKey: `history-${i}` };
    if (i === 0) return grant(ctx, { ...base, actor: { kind: 'SYSTEM' }, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 100n });
    if (i === 1) return purchase(ctx, { ...base, actor: { kind: 'SYSTEM' }, amount: BigInt(entries) * 3n });
    if (i % topUpEvery === 0) return purchase(ctx, { ...base, actor: { kind: 'SYSTEM' }, amount: 500n });
    return spend(ctx, { ...base, actor: { kind: 'SERVICE' }, charge: { action: spendActions[Math.floor(i / 4) % spendActions.length]!, quantity: 1 } });
  };
  for (let batch = 0; batch * writeBatch < entries; batch++) {
    const first = batch * writeBatch;
    await Promise.all(Array.from({ length: Math.min(writeBatch, entries - first) }, (_, j) => write(first + j)));
  }
}

/** As the console transport builds it: a linked, non-staff user, a fresh interaction each call. */
function consoleCaller(): Caller {
  return { transport: 'console', chatUserId: userExternalId, userExternalId, isStaff: false, interactionId: `console-${randomUUID()}` };
}

function activityPage(view: View) {
  if (view.kind !== 'activity') throw new Error(`/activity answered ${view.kind === 'error' ? view.text : view.kind}`);
  return view.page;
}

await runBenchmark('chat', main);
