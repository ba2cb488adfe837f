import { REST, Routes } from 'discord.js';
import { loadChatConfig } from '../chatConfig.js';
import { discordCommandDefinitions } from './commandDefinitions.js';

/**
 * `npm run register`: one bulk overwrite of the slash commands (removed ones go too); DISCORD_GUILD_ID targets
 * one server, where changes show at once.
 */
async function main(): Promise<void> {
  const config = loadChatConfig();
  if (!config.DISCORD_TOKEN || !config.DISCORD_APPLICATION_ID) {
    throw new Error('Set DISCORD_TOKEN and DISCORD_APPLICATION_ID (and DISCORD_GUILD_ID while developing) to register commands');
  }
  const rest = new REST(config.DISCORD_API_URL ? { api: config.DISCORD_API_URL } : {}).setToken(config.DISCORD_TOKEN);
  const route = config.DISCORD_GUILD_ID
    ? Routes.applicationGuildCommands(config.DISCORD_APPLICATION_ID, config.DISCORD_GUILD_ID)
    : Routes.applicationCommands(config.DISCORD_APPLICATION_ID);
  const registered = (await rest.put(route, { body: discordCommandDefinitions() })) as { name: string }[];
  const where = config.DISCORD_GUILD_ID ? `server ${config.DISCORD_GUILD_ID}` : 'every server (global commands can take up to an hour to appear)';
  console.log(`Registered ${registered.map((c) => `/${c.name}`).join(' ')} for ${where}.`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
