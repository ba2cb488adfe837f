import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { openAccount } from '../../core/accounts/openAccount.js';
import { databaseTarget, loadConfig } from '../../core/config.js';
import { createCoreContext } from '../../core/context.js';
import { openDatabase } from '../../core/db/database.js';
import { isCreditkeeperError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import type { Caller } from '../command.js';
import { commands } from '../commands/index.js';
import { dispatch } from '../dispatch.js';
import { parseLine } from '../text/parseLine.js';
import { renderText } from '../text/renderText.js';

/** `npm run chat -- --as maria [--staff]`: the bots' commands and dispatcher in a terminal, rendered as text. */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { as: { type: 'string' }, staff: { type: 'boolean' }, zone: { type: 'string' } } });
  if (!values.as) {
    console.error('Usage: npm run chat -- --as <user> [--staff] [--zone Europe/Paris]');
    return 2;
  }
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  const db = await openDatabase(databaseTarget(config));
  const ctx = createCoreContext(db, config);
  try {
    const opened = await openAccount(ctx, { owner: { kind: 'USER', externalId: values.as, ...(values.zone && { timeZone: values.zone }) } });
    console.log(`Signed in as ${values.as}${values.staff ? ' (staff)' : ''}${opened.created ? ' — a new account with 0 credits' : ''}. Type /help, or exit.`);
    const terminal = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' });
    terminal.prompt();
    for await (const line of terminal) {
      const parsed = parseLine(line);
      if (parsed?.name === 'exit' || parsed?.name === 'quit') break;
      if (parsed?.name === 'help') console.log(help());
      else if (parsed) {
        const caller: Caller = {
          transport: 'console',
          chatUserId: values.as,
          userExternalId: values.as,
          isStaff: values.staff ?? false,
          interactionId: `console-${randomUUID()}`,
          ...(values.zone && { timeZone: values.zone }),
        };
        console.log(renderText(await dispatch(ctx, logger, caller, parsed.name, parsed.options)));
      }
      terminal.prompt();
    }
    return 0;
  } finally {
    await db.close();
  }
}

function help(): string {
  return commands
    .map((c) => {
      const shape = (c.options as unknown as { shape: Record<string, { description?: string }> }).shape;
      const options = Object.entries(shape).map(([name, o]) => `${name}:<${o.description ?? name}>`).join(' ');
      return `/${c.name} ${options}\n    ${c.description}${c.staff ? ' (staff)' : ''}`;
    })
    .join('\n');
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(isCreditkeeperError(error) ? `${error.code}: ${error.message}` : error);
    process.exit(isCreditkeeperError(error) ? 2 : 1);
  },
);
