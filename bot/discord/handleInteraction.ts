import {
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  MessageFlags,
  type RepliableInteraction,
} from 'discord.js';
import { listMemberAccounts } from '../../core/accounts/listMemberAccounts.js';
import type { CoreContext } from '../../core/context.js';
import { resolveChatUser } from '../../core/identity/resolveChatUser.js';
import type { Logger } from '../../core/logger.js';
import { clipText, staleButtonText, unexpectedErrorText } from '../chatFormat.js';
import { dispatch } from '../dispatch.js';
import type { View } from '../views.js';
import { parseActivityButtonId } from './activityButtons.js';
import { discordCaller } from './discordCaller.js';
import { renderDiscord } from './renderDiscord.js';

export interface DiscordHandlerOptions {
  ctx: CoreContext;
  logger: Logger;
  staffRoleId?: string | undefined;
  /** Told when someone linked this Discord account (the link notice goes out from there). */
  onLinked?: (discordUserId: string, view: Extract<View, { kind: 'linked' }>) => void;
}

/**
 * One interaction from Discord: a slash command, an `account` being typed (autocomplete), or a
 * paging button. Never throws: whatever fails is logged, and the user is told when still possible.
 */
export async function handleInteraction(options: DiscordHandlerOptions, interaction: Interaction): Promise<void> {
  try {
    if (interaction.isChatInputCommand()) await runCommand(options, interaction);
    else if (interaction.isAutocomplete()) await suggestAccounts(options, interaction);
    else if (interaction.isButton()) await turnPage(options, interaction);
  } catch (error) {
    const text = unexpectedErrorText(options.logger, error, { transport: 'discord', interactionId: interaction.id });
    if (interaction.isRepliable()) await tellFailure(options.logger, interaction, text);
  }
}

async function runCommand(options: DiscordHandlerOptions, interaction: ChatInputCommandInteraction): Promise<void> {
  // Every command reads the database: acknowledge first, so a slow moment cannot miss Discord's
  // three seconds. Everything here is personal or staff data: only the caller sees it.
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const values = Object.fromEntries(interaction.options.data.map((o) => [o.name, o.value]));
  const caller = await discordCaller(options.ctx, interaction, options.staffRoleId);
  const view = await dispatch(options.ctx, options.logger, caller, interaction.commandName, values);
  // The link happened whether or not the reply gets through.
  if (view.kind === 'linked') options.onLinked?.(interaction.user.id, view);
  await interaction.editReply(renderDiscord(view, typeof values.account === 'string' ? values.account : undefined));
}

/** The organisations and clients the caller belongs to, matching what they typed. */
async function suggestAccounts(options: DiscordHandlerOptions, interaction: AutocompleteInteraction): Promise<void> {
  const focused = interaction.options.getFocused(true);
  const linked = await resolveChatUser(options.ctx, { provider: 'DISCORD', externalId: interaction.user.id });
  const accounts =
    focused.name === 'account' && linked
      ? await listMemberAccounts(options.ctx, { userExternalId: linked.userExternalId, search: String(focused.value).slice(0, 200) })
      : [];
  await interaction.respond(accounts.map((a) => ({ name: clipText(`${a.label} — ${a.account}`, 100), value: a.account.slice(0, 100) })));
}

async function turnPage(options: DiscordHandlerOptions, interaction: ButtonInteraction): Promise<void> {
  const request = parseActivityButtonId(interaction.customId);
  const stale = { transport: 'discord', interactionId: interaction.id, customId: interaction.customId };
  if (!request) {
    // An old message's button, or one this bot never made: say so rather than leave Discord's "interaction failed".
    options.logger.warn(stale, 'a button the bot cannot read');
    await interaction.reply({ content: staleButtonText, flags: MessageFlags.Ephemeral });
    return;
  }
  // Discord records who ran the command the message answers; only they may page it.
  if (interaction.message.interactionMetadata?.user.id !== interaction.user.id) {
    await interaction.reply({ content: 'Only the person who ran /activity can turn its pages.', flags: MessageFlags.Ephemeral });
    return;
  }
  await interaction.deferUpdate();
  const caller = await discordCaller(options.ctx, interaction, options.staffRoleId);
  const view = await dispatch(options.ctx, options.logger, caller, 'activity', request);
  if (view.kind === 'error') {
    // A cursor that no longer reads, an account that is gone: the page stays as it was, and only the presser is told.
    options.logger.warn({ ...stale, code: view.code }, 'a button could not turn the page');
    await interaction.followUp({ content: view.text, flags: MessageFlags.Ephemeral });
    return;
  }
  await interaction.editReply(renderDiscord(view, request.account));
}

/** The "something went wrong" reply, wherever the interaction got to; a failure here is only logged. */
async function tellFailure(logger: Logger, interaction: RepliableInteraction, text: string): Promise<void> {
  try {
    // An edit replaces whatever the reply held (a page whose next one failed to load).
    if (interaction.deferred || interaction.replied) await interaction.editReply({ content: text, embeds: [], components: [], files: [] });
    else await interaction.reply({ content: text, flags: MessageFlags.Ephemeral });
  } catch (error) {
    logger.warn({ err: error, interactionId: interaction.id }, 'could not tell a Discord user about a failure');
  }
}
