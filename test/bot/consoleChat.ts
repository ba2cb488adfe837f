import { pino } from 'pino';
import type { Caller } from '../../bot/command.js';
import { dispatch } from '../../bot/dispatch.js';
import { parseLine } from '../../bot/text/parseLine.js';
import { renderText } from '../../bot/text/renderText.js';
import type { CoreContext } from '../../core/context.js';

/** A line typed at the console as `as` (staff or not, in `timeZone` as --zone gives it), answered as the person reads it; each line its own interaction. */
export function consoleChat(ctx: CoreContext): (as: string, line: string, staff?: boolean, timeZone?: string) => Promise<string> {
  const logger = pino({ level: 'silent' });
  let interaction = 0;
  return async (as, line, staff = false, timeZone?) => {
    const parsed = parseLine(line)!;
    const caller: Caller = { transport: 'console', chatUserId: as, userExternalId: as, isStaff: staff, interactionId: `i-${++interaction}`, ...(timeZone && { timeZone }) };
    return renderText(await dispatch(ctx, logger, caller, parsed.name, parsed.options));
  };
}
