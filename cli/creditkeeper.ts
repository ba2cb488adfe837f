#!/usr/bin/env -S npx tsx
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import * as core from '../core/index.js';

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
  balance: core.getBalance,
  credits: core.getBalanceBreakdown,
  activity: core.getActivity,
  'activity-group': core.getActivityGroup,
  'daily-usage': core.getDailyUsage,
  'monthly-summary': core.getMonthlySummary,
  why: core.explainBalance,
} as const satisfies Record<string, (ctx: core.CoreContext, input: never) => Promise<unknown>>;

const usage = `Usage: creditkeeper <command>
  start                      open the database (embedded ./data unless DATABASE_URL), migrate, serve /healthz on PORT
  migrate [--status]         apply pending migrations (or list them)
  verify                     check every ledger invariant; exits 1 with a report if one breaks
  run <operation> '<json>'   run one core operation; operations: ${Object.keys(operations).join(', ')}
  export-csv '<json>'        the activity log as CSV on standard output (same filters as activity)
Examples:
  creditkeeper run open-account '{"owner":{"kind":"USER","externalId":"u_42"}}'
  creditkeeper run spend '{"accountId":"…","idempotencyKey":"req-1","actor":{"kind":"SERVICE"},"charge":{"action":"image","quantity":2}}'`;

const json = (value: unknown) =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { status: { type: 'boolean' } } });
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
      case 'start':
        await serve(ctx, config.PORT, target.kind, logger);
        return 0;
      default:
        console.error(usage);
        return 2;
    }
  } finally {
    await db.close();
  }
}

/** Holds the database and answers health checks until SIGINT/SIGTERM. */
async function serve(ctx: core.CoreContext, port: number, kind: string, logger: core.Logger): Promise<void> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      ctx.db.sql.query('SELECT 1').then(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'),
        () => res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"database unreachable"}'),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND"}}');
  });
  await new Promise<void>((resolve) => server.listen(port, resolve));
  logger.info({ port, database: kind }, `Creditkeeper is running: http://localhost:${port}/healthz`);
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
  });
  logger.info('shutting down');
  await new Promise<void>((resolve) => server.close(() => resolve()));
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
