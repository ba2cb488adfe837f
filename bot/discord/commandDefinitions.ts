import {
  type APIApplicationCommandBasicOption,
  ApplicationCommandOptionType,
  ApplicationCommandType,
  InteractionContextType,
  PermissionFlagsBits,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import { z } from 'zod';
import type { Command } from '../command.js';
import { commands } from '../commands/index.js';
import { accountOption } from '../commands/options.js';

/**
 * Discord's slash commands, generated from each command's zod options so the two never drift (zod still
 * parses what comes in); a member's organisation `account` autocompletes.
 */
export function discordCommandDefinitions(): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  return commands.map((command) => ({
    type: ApplicationCommandType.ChatInput,
    name: command.name,
    description: clip(command.description),
    options: discordOptions(command),
    // Staff commands are hidden from others by default and only offered in servers; a server
    // admin may show them to anyone, so the bot checks staff itself on every call.
    ...(command.staff
      ? { default_member_permissions: PermissionFlagsBits.ManageGuild.toString(), contexts: [InteractionContextType.Guild] }
      : { contexts: [InteractionContextType.Guild, InteractionContextType.BotDM] }),
  }));
}

function discordOptions(command: Command): APIApplicationCommandBasicOption[] {
  const shape = (command.options as unknown as z.ZodObject).shape;
  const options = Object.entries(shape).map(([name, schema]) => discordOption(name, schema as z.ZodType));
  // Discord wants required options first.
  return options.sort((a, b) => Number(b.required ?? false) - Number(a.required ?? false));
}

function discordOption(name: string, schema: z.ZodType): APIApplicationCommandBasicOption {
  const required = !(schema instanceof z.ZodOptional || schema instanceof z.ZodDefault);
  const inner = unwrap(schema);
  const common = { name, description: clip(schema.description ?? inner.description ?? name), required };
  if (schema === accountOption) return { ...common, type: ApplicationCommandOptionType.String, autocomplete: true };
  if (inner instanceof z.ZodEnum) {
    const values = inner.options as string[];
    return { ...common, type: ApplicationCommandOptionType.String, choices: values.map((value) => ({ name: value, value })) };
  }
  if (inner instanceof z.ZodUnion && inner.options.some((o) => o instanceof z.ZodNumber)) {
    return { ...common, type: ApplicationCommandOptionType.Integer };
  }
  const maxLength = inner instanceof z.ZodString && inner.maxLength !== null ? Math.min(inner.maxLength, 6000) : undefined;
  return { ...common, type: ApplicationCommandOptionType.String, ...(maxLength && { max_length: maxLength }) };
}

function unwrap(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) return unwrap(schema.unwrap() as z.ZodType);
  return schema;
}

/** Discord allows 1–100 characters of description. */
function clip(text: string): string {
  return text.length <= 100 ? text : `${text.slice(0, 99)}…`;
}
