#!/usr/bin/env -S npx tsx
import { parseArgs } from 'node:util';
import { startServer } from '../admin/server.js';
import { loadChatConfig } from '../bot/chatConfig.js';
import { ChatNotifier } from '../bot/notices/chatNotifier.js';
import { startChat } from '../bot/startChat.js';
import { startRenewalCron } from '../cron/renewalCron.js';
import { startWebhooks } from '../core/webhooks/startWebhooks.js';
import { ReadReplica } from '../core/db/readReplica.js';
import { CreditkeeperError } from '../core/errors.js';
import * as core from '../core/index.js';
import { askForLoginLink, loginLinkLine, mintLoginLink, serveOperatorSocket } from './operatorSocket.js';
import { observeWrites } from './wireProcess.js';

/**
 * The operator's command line: start the service, migrate, verify the ledger, and run any
 * core operation with a JSON input (what the service API will expose over HTTP).
 */
const operations = {
  'open-account': core.openAccount,
  'add-member': core.addMember,
  grant: core.grant,
  spend: core.spend,
  purchase: core.purchase,
  'reverse-purchase': core.reversePurchase,
  refund: core.refund,
  adjust: core.adjust,
  'write-off': core.writeOff,
  'reconcile-deposit': core.reconcileDeposit,
  'void-deposit': core.voidDeposit,
  subscribe: core.subscribe,
  'change-plan': core.changePlan,
  'cancel-subscription': core.cancelSubscription,
  'link-code': core.createLinkCode,
  'auto-reload': core.setAutoReload,
  balance: core.getBalance,
  credits: core.getBalanceBreakdown,
  activity: core.getActivity,
  'activity-group': core.getActivityGroup,
  'daily-usage': core.getDailyUsage,
  'monthly-summary': core.getMonthlySummary,
  why: core.explainBalance,
} as const satisfies Record<string, (ctx: core.CoreContext, input: never) => Promise<unknown>>;

const usage = `Usage: creditkeeper <command>
  start                      open the database (embedded ./data unless DATABASE_URL), migrate, serve the API on PORT
  token create --name N --scopes SERVICE,READ,ADMIN [--organisation EXT]
                             create an API token (the secret is printed once)
  token revoke <id>          revoke a token
  login-link --staff NAME [--organisation EXT]
                             a one-time sign-in link for the admin page (15 minutes), optionally limited to one organisation
  migrate [--status]         apply pending migrations (or list them)
  verify                     check every ledger invariant; exits 1 with a report if one breaks
  renew                      renew every due subscription now (what the cron does every RENEWAL_SCHEDULE)
  run <operation> '<json>'   run one core operation; operations: ${Object.keys(operations).join(', ')}
  export-csv '<json>'        the activity log as CSV on standard output (same filters as activity)
Examples:
  creditkeeper run open-account '{"owner":{"kind":"USER","externalId":"u_42"}}'
  creditkeeper run spend '{"accountId":"…","idempotencyKey":"req-1","actor":{"kind":"SERVICE"},"charge":{"action":"image","quantity":2}}'`;

const json = (value: unknown) =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);

/** A command line this CLI cannot run: said in one line, with where the usage is, and exit code 2. */
class UsageError extends Error {}

const commands = ['start', 'token', 'login-link', 'migrate', 'verify', 'renew', 'run', 'export-csv'] as const;

function readArguments(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        status: { type: 'boolean' },
        name: { type: 'string' },
        scopes: { type: 'string' },
        organisation: { type: 'string' },
        staff: { type: 'string' },
      },
    });
  } catch (error) {
    // parseArgs's own refusals (an unknown option, a missing value) are the caller's mistake.
    throw new UsageError((error as Error).message);
  }
}

/** A command's JSON argument, read before anything opens the database. */
function jsonArgument(command: string, text: string | undefined, fallback?: string): never {
  if (text === undefined && fallback === undefined) throw new UsageError(`${command} needs its input as JSON, e.g. '{"accountId":"…"}'`);
  try {
    return JSON.parse(text ?? fallback!) as never;
  } catch (error) {
    throw new UsageError(`${command}: the input is not JSON (${(error as Error).message})`);
  }
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = readArguments(argv);
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') {
    console.log(usage);
    return 0;
  }
  if (!command) {
    console.error(usage);
    return 2;
  }
  if (!commands.includes(command as never)) throw new UsageError(`unknown command "${command}"`);
  if (command === 'token' && rest[0] === 'create' && (!values.name || !values.scopes)) throw new UsageError('token create needs --name N and --scopes SERVICE,READ,ADMIN');
  if (command === 'login-link' && !values.staff) throw new UsageError('login-link needs --staff NAME (who signs in; the audit log names them)');
  if (command === 'run' && !Object.hasOwn(operations, rest[0] ?? '')) throw new UsageError(rest[0] ? `unknown operation "${rest[0]}"; operations: ${Object.keys(operations).join(', ')}` : 'run needs an operation and its JSON input');
  const input = command === 'run' ? jsonArgument(`run ${rest[0]}`, rest[1]) : command === 'export-csv' ? jsonArgument('export-csv', rest[0], '{}') : undefined;
  const config = core.loadConfig();
  const logger = core.createLogger(config.LOG_LEVEL);
  const target = core.databaseTarget(config);
  const db = await core.openDatabase(target, { migrate: command !== 'migrate', logger }).catch(async (error: unknown) => {
    if (!isLocked(error) || target.kind !== 'embedded') throw error;
    // `start` owns the embedded database: what it can answer, ask it (operatorSocket.ts).
    // No answer on its socket (an older process): the lock's own message says what to do.
    if (command === 'login-link') return askForLoginLink(target.dataDir, loginLinkInput(values)).catch((asked: unknown) => Promise.reject(core.isCreditkeeperError(asked) ? asked : error));
    throw new CreditkeeperError(error.code, `${error.message} While it runs, login-link is answered by it; for ${command}, stop it first.`, error.details);
  });
  if (!('sql' in db)) {
    // The running process made the link.
    console.log(loginLinkLine(db));
    return 0;
  }
  const ctx = core.createCoreContext(db, config);
  try {
    switch (command) {
      case 'migrate': {
        if (values.status) {
          const pending = await core.pendingMigrations(db.sql);
          console.log(pending.length ? `Pending: ${pending.join(', ')}` : 'Database is up to date');
          return pending.length ? 1 : 0;
        }
        const { applied } = await core.migrate(db.sql);
        console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Nothing to apply');
        return 0;
      }
      case 'verify': {
        const report = await core.verifyLedger(db);
        for (const check of report.checks) {
          console.log(`${check.violations.length ? 'FAIL' : 'ok  '} ${check.name}: ${check.description}`);
          for (const v of check.violations) console.log(`       ${json(v).replace(/\s+/g, ' ')}`);
        }
        console.log(`${report.accounts} accounts, ${report.entries} entries: ${report.ok ? 'ledger sound' : 'INVARIANTS BROKEN'}`);
        return report.ok ? 0 : 1;
      }
      case 'renew': {
        console.log(json(await core.renewDueSubscriptions(ctx, { logger })));
        return 0;
      }
      case 'run': {
        const operation = operations[rest[0] as keyof typeof operations];
        console.log(json(await operation(ctx, input!)));
        return 0;
      }
      case 'export-csv': {
        for await (const chunk of core.exportActivityCsv(ctx, input!)) process.stdout.write(chunk);
        return 0;
      }
      case 'token': {
        const actor = { kind: 'STAFF' as const, id: process.env.USER ?? 'cli' };
        if (rest[0] === 'create') {
          const token = await core.createApiToken(ctx, {
            name: values.name ?? '',
            scopes: (values.scopes ?? '').split(',').filter(Boolean) as never,
            ...(values.organisation && { organisationExternalId: values.organisation }),
            actor,
            origin: { transport: 'cli' },
          });
          console.log(json({ ...token, note: 'Keep the secret: it is not shown again.' }));
          return 0;
        }
        if (rest[0] === 'revoke' && rest[1]) {
          await core.revokeApiToken(ctx, { tokenId: rest[1], actor, origin: { transport: 'cli' } });
          console.log(`Revoked ${rest[1]}`);
          return 0;
        }
        throw new UsageError(rest[0] === 'revoke' ? 'token revoke needs the token id' : 'token create --name N --scopes … or token revoke <id>');
      }
      case 'login-link': {
        console.log(loginLinkLine(await mintLoginLink(ctx, config.PORT, loginLinkInput(values))));
        return 0;
      }
      case 'start':
        await serve(ctx, config, target, logger);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    await db.close();
  }
}

/** Serves the API until SIGINT/SIGTERM, then finishes in-flight requests before the database closes. */
async function serve(ctx: core.CoreContext, config: core.Config, target: ReturnType<typeof core.databaseTarget>, logger: core.Logger): Promise<void> {
  if (target.kind === 'embedded') {
    const bootstrap = await core.ensureBootstrapToken(ctx);
    if (bootstrap) {
      // On stdout as a line of its own, not inside a log line; the log says only that it was made.
      logger.warn({ tokenId: bootstrap.id }, 'First start: created an API token with every scope (printed once on standard output)');
      console.log(`API token (every scope; keep it, it is not shown again): ${bootstrap.secret}`);
    }
  }
  const chatConfig = loadChatConfig();
  const notifier = new ChatNotifier(ctx, logger, { lowBalanceThreshold: chatConfig.LOW_BALANCE_THRESHOLD });
  const replica = config.DATABASE_READ_URL ? new ReadReplica(config.DATABASE_READ_URL, ctx.db.sql, { poolSize: config.DATABASE_POOL_SIZE, logger }) : undefined;
  const observed = observeWrites(ctx, notifier, replica);
  const chat = await startChat({ ctx: observed.ctx, logger, config: chatConfig, notifier });
  const server = await startServer(observed.ctx, logger, config.PORT, {
    metrics: observed.metrics,
    perTokenPerSecond: config.RATE_LIMIT_PER_TOKEN,
    routers: chat.routers,
    readiness: chat.readiness,
  });
  const renewals = startRenewalCron(observed.ctx, logger, config.RENEWAL_SCHEDULE, observed.metrics.renewalRun);
  const webhooks = startWebhooks(observed.ctx, logger);
  logger.info(
    { port: server.port, database: target.kind },
    `Creditkeeper is running: http://localhost:${server.port}/v1/openapi.json — admin page http://localhost:${server.port}/admin`,
  );
  for (const line of chat.summary) logger.info(line);
  const operator = target.kind === 'embedded' ? await serveOperatorSocket(observed.ctx, logger, target.dataDir, server.port) : undefined;
  if (target.kind === 'embedded') {
    logger.info('The console bot needs ./data to itself: stop this server first, then npm run chat -- --as <user>. npm run creditkeeper -- login-link works meanwhile (it asks this process).');
  }
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => resolve()); // on, not once: Ctrl-C reaches the server twice (the terminal's and npm's)
  });
  logger.info('shutting down: finishing in-flight requests and the renewal run, if any');
  await Promise.all([server.close(), renewals.stop(), webhooks.stop(), chat.close(), operator?.close()]);
  await replica?.close();
}

function isLocked(error: unknown): error is CreditkeeperError {
  return core.isCreditkeeperError(error, 'DATABASE_LOCKED');
}

function loginLinkInput(values: { staff?: string; organisation?: string }) {
  return { staffId: values.staff!, ...(values.organisation && { organisationExternalId: values.organisation }) };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`creditkeeper: ${error.message}. Run creditkeeper --help for usage.`);
      process.exit(2);
    }
    if (core.isCreditkeeperError(error)) {
      console.error(`${error.code}: ${error.message}`);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  },
);
