import type { z } from 'zod';
import type { CoreContext } from '../core/context.js';
import type { View } from './views.js';

/** Who is asking, as every transport resolves it. */
export interface Caller {
  transport: 'discord' | 'slack' | 'console';
  /** The transport's own id for the person: a Discord snowflake, a Slack user id, the console's --as. */
  chatUserId: string;
  /** The Creditkeeper user the chat identity is linked to; null until they run /link. */
  userExternalId: string | null;
  /** Checked by the transport on every call (a role, a user group, a list). */
  isStaff: boolean;
  /** The interaction's own id: a write made twice from one interaction happens once. */
  interactionId: string;
  /** The viewer's zone where the transport knows it (Slack does); else the account's. */
  timeZone?: string;
}

/**
 * A chat command, the same on Discord, Slack and the console: options parsed with zod (from
 * text), one core use-case, a view that each transport renders.
 */
export interface Command<Options extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  /** Only staff may run it; others are refused and the refusal is audited. */
  staff: boolean;
  options: Options;
  run(ctx: CoreContext, caller: Caller, options: z.infer<Options>): Promise<View>;
}

export function command<Options extends z.ZodType>(definition: Command<Options>): Command {
  return definition as unknown as Command;
}

/** Who the caller is in the audit log and in logs: their user when linked, else their chat identity. */
export function callerId(caller: Caller): string {
  return caller.userExternalId ?? `${caller.transport}:${caller.chatUserId}`;
}
