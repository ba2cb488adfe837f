import { randomUUID } from 'node:crypto';
import { recordAudit } from '../core/audit/recordAudit.js';
import type { CoreContext } from '../core/context.js';
import { isCreditkeeperError } from '../core/errors.js';
import { parseInput } from '../core/input.js';
import type { Logger } from '../core/logger.js';
import { type Caller, callerId } from './command.js';
import { commands } from './commands/index.js';
import { errorText } from './errorText.js';
import type { View } from './views.js';

/**
 * One chat command for every transport: parse, refuse (and audit) staff commands from non-staff, and turn any
 * failure into a short sentence, never a stack trace in a chat.
 */
export async function dispatch(ctx: CoreContext, logger: Logger, caller: Caller, name: string, options: unknown): Promise<View> {
  const command = commands.find((c) => c.name === name);
  if (!command) return { kind: 'error', code: 'NOT_FOUND', text: `There is no /${name}. Try /help.` };
  try {
    if (command.staff && !caller.isStaff) {
      await recordAudit(ctx, {
        actor: { kind: 'USER', id: callerId(caller) },
        action: `chat.${command.name}`,
        outcome: 'denied: not staff',
        origin: { transport: caller.transport, requestId: caller.interactionId },
        details: { options: JSON.parse(JSON.stringify(options ?? {})) as Record<string, unknown> },
      });
      return { kind: 'error', code: 'FORBIDDEN', text: errorText.FORBIDDEN };
    }
    return await command.run(ctx, caller, parseInput(command.options, options ?? {}));
  } catch (error) {
    if (isCreditkeeperError(error)) {
      const detail = error.code === 'VALIDATION_FAILED' ? `: ${error.message}.` : '';
      return { kind: 'error', code: error.code, text: `${errorText[error.code]}${detail}` };
    }
    const ref = randomUUID().slice(0, 8);
    logger.error({ err: error, ref, command: name, caller: callerId(caller) }, 'chat command failed');
    return { kind: 'error', code: 'INTERNAL', text: `Something went wrong (ref ${ref}).` };
  }
}

