import { Client, type ClientOptions, Events, GatewayIntentBits, Routes } from 'discord.js';
import type { DirectMessageSender } from '../notices/chatNotifier.js';
import { type DiscordHandlerOptions, handleInteraction } from './handleInteraction.js';

export interface DiscordBot {
  client: Client;
  /** Connects to the gateway; resolves once Discord accepted the token. */
  start(): Promise<void>;
  sendDirectMessage: DirectMessageSender;
  close(): Promise<void>;
}

/**
 * The Discord transport: a gateway client (interactions need no privileged intents; Guilds lets
 * discord.js know members' roles) that hands every interaction to the handler.
 */
export function createDiscordBot(
  options: DiscordHandlerOptions & { token: string; clientOptions?: Partial<ClientOptions> },
): DiscordBot {
  const { token, clientOptions, ...handler } = options;
  const client = new Client({ intents: [GatewayIntentBits.Guilds], ...clientOptions });
  client.rest.setToken(token);
  client.on(Events.InteractionCreate, (interaction) => void handleInteraction(handler, interaction));
  // Without a listener an 'error' event would crash the process.
  client.on(Events.Error, (error) => handler.logger.error({ err: error }, 'Discord client error'));
  client.on(Events.ShardDisconnect, (event) => handler.logger.warn({ code: event.code }, 'Discord gateway disconnected'));
  return {
    client,
    start: async () => {
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
      await client.login(token);
      await ready;
      handler.logger.info({ user: client.user?.tag }, 'Discord bot connected');
    },
    // Straight through REST: a DM needs no gateway session (or its cache) to go out.
    sendDirectMessage: async (userId, text) => {
      const channel = (await client.rest.post(Routes.userChannels(), { body: { recipient_id: userId } })) as { id: string };
      await client.rest.post(Routes.channelMessages(channel.id), { body: { content: text } });
    },
    close: () => client.destroy(),
  };
}
