import { type APIInteractionGuildMember, type GuildMember, type Interaction, PermissionFlagsBits } from 'discord.js';
import type { CoreContext } from '../../core/context.js';
import { resolveChatUser } from '../../core/identity/resolveChatUser.js';
import type { Caller } from '../command.js';

/** Who pressed or typed: their linked user (if any), and whether they are staff right now. */
export async function discordCaller(ctx: CoreContext, interaction: Interaction, staffRoleId: string | undefined): Promise<Caller> {
  const linked = await resolveChatUser(ctx, { provider: 'DISCORD', externalId: interaction.user.id });
  return {
    transport: 'discord',
    chatUserId: interaction.user.id,
    userExternalId: linked?.userExternalId ?? null,
    isStaff: isDiscordStaff(interaction, staffRoleId),
    interactionId: interaction.id,
  };
}

/**
 * Staff: the staff role or Manage Server, read from this interaction, never from the command's integration
 * settings, which a server admin may loosen. Nobody is staff in a DM.
 */
function isDiscordStaff(interaction: Interaction, staffRoleId: string | undefined): boolean {
  const member = interaction.member;
  if (!interaction.inGuild() || !member) return false;
  if (interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) return true;
  return staffRoleId !== undefined && memberRoleIds(member).includes(staffRoleId);
}

/** A cached member has a role manager; an uncached one (no Guilds intent) the raw id list. */
function memberRoleIds(member: GuildMember | APIInteractionGuildMember): string[] {
  return Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
}
