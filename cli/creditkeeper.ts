#!/usr/bin/env -S npx tsx
import { parseArgs } from 'node:util';
import { startServer } from '../admin/server.js';
import { loadChatConfig } from '../bot/chatConfig.js';
import { ChatNotifier } from '../bot/notices/chatNotifier.js';
import { startChat } from '../bot/startChat.js';
import { startRenewalCron } from '../cron/renewalCron.js';
import { startWebhooks } from '../core/webhooks/startWebhooks.js';
import * as core from '../core/index.js';
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

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      status: { type: 'boolean' },
      name: { type: 'string' },
      scopes: { type: 'string' },
      organisation: { type: 'string' },
      staff: { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  const config = core.loadConfig();
  const logger = core.createLogger(config.LOG_LEVEL);
  if (!command || command === 'help') {
    console.log(usage);
    return command ? 0 : 2;
  }
  const target = core.databaseTarget(config);
  const db = await core.openDatabase(target, { migrate: command !== 'migrate' });
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
        const [name, input] = rest;
        const operation = operations[name as keyof typeof operations];
        if (!operation || input === undefined) {
          console.error(usage);
          return 2;
        }
        console.log(json(await operation(ctx, JSON.parse(input) as never)));
        return 0;
      }
      case 'export-csv': {
        for await (const chunk of core.exportActivityCsv(ctx, JSON.parse(rest[0] ?? '{}') as never)) process.stdout.write(chunk);
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
        console.error(usage);
        return 2;
      }
      case 'login-link': {
        const link = await core.createLoginLink(ctx, {
          staffId: values.staff ?? '',
          ...(values.organisation && { organisationExternalId: values.organisation }),
        });
        console.log(`http://localhost:${config.PORT}/admin/login/${link.secret} (valid until ${link.expiresAt.toISOString()}, once)`);
        return 0;
      }
      case 'start':
        await serve(ctx, config, target.kind, logger);
        return 0;
      default:
        console.error(usage);
        return 2;
    }
  } finally {
    await db.close();
  }
}

/** Serves the API until SIGINT/SIGTERM, then finishes in-flight requests before the database closes. */
async function serve(ctx: core.CoreContext, config: core.Config, kind: string, logger: core.Logger): Promise<void> {
  if (kind === 'embedded') {
    const bootstrap = await core.ensureBootstrapToken(ctx);
    if (bootstrap) {
      logger.warn(
        { tokenId: bootstrap.id },
        `First start: created an API token with every scope. Keep it, it is not shown again: ${bootstrap.secret}`,
      );
    }
  }
  const chatConfig = loadChatConfig();
  const notifier = new ChatNotifier(ctx, logger, { lowBalanceThreshold: chatConfig.LOW_BALANCE_THRESHOLD });
  const observed = observeWrites(ctx, notifier);
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
    { port: server.port, database: kind },
    `Creditkeeper is running: http://localhost:${server.port}/v1/openapi.json — admin page http://localhost:${server.port}/admin`,
  );
  for (const line of chat.summary) logger.info(line);
  if (kind === 'embedded') logger.info('The console bot needs ./data to itself: stop this server first, then npm run chat -- --as <user>');
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
  });
  logger.info('shutting down: finishing in-flight requests and the renewal run, if any');
  await Promise.all([server.close(), renewals.stop(), webhooks.stop(), chat.close()]);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (core.isCreditkeeperError(error)) {
      console.error(`${error.code}: ${error.message}`);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  },
);
