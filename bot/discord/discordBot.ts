import { Client, type ClientOptions, DiscordAPIError, Events, GatewayIntentBits, REST, Routes } from 'discord.js';
import type { DirectMessageSender } from '../notices/chatNotifier.js';
import { type ChatTransport, type ConnectionEvents, CredentialsRejected } from '../transportHealth.js';
import { type DiscordHandlerOptions, handleInteraction } from './handleInteraction.js';

export interface DiscordBotOptions extends DiscordHandlerOptions {
  token: string;
  clientOptions?: Partial<ClientOptions>;
  /**
   * Discord's REST API (`https://discord.com/api` unless set). The gateway is wherever that API
   * says it is (GET /gateway/bot), so this moves both: tests point it at a server of their own.
   */
  apiUrl?: string | undefined;
}

const tokenCheckTimeoutMs = 10_000;

export interface DiscordBot {
  /** The gateway client of the latest attempt: discord.js cannot log a destroyed client in again. */
  readonly client: Client;
  /** For the supervisor: an attempt checks the token over REST, then logs in to the gateway. */
  transport: ChatTransport;
  sendDirectMessage: DirectMessageSender;
  /** Destroys the gateway client. */
  close(): Promise<void>;
}

/**
 * The Discord transport: a gateway client (interactions need no privileged intents; Guilds lets
 * discord.js know members' roles) that hands every interaction to the handler.
 */
export function createDiscordBot(options: DiscordBotOptions): DiscordBot {
  const { token, clientOptions, apiUrl, ...handler } = options;
  const restOptions = { ...clientOptions?.rest, ...(apiUrl && { api: apiUrl }) };
  // Direct messages go out whatever state the gateway client is in.
  const rest = new REST(restOptions).setToken(token);
  // One try, soon given up: a check stuck in REST's per-route queue would hold up the next attempt's.
  const tokenCheck = new REST({ ...restOptions, retries: 0, timeout: tokenCheckTimeoutMs }).setToken(token);
  let connection: ConnectionEvents | undefined;

  function gatewayClient(): Client {
    const created = new Client({ intents: [GatewayIntentBits.Guilds], ...clientOptions, rest: restOptions });
    created.rest.setToken(token);
    created.on(Events.InteractionCreate, (interaction) => void handleInteraction(handler, interaction));
    // Without a listener an 'error' event would crash the process.
    created.on(Events.Error, (error) => handler.logger.error({ err: error }, 'Discord client error'));
    // discord.js reconnects on its own after most closes; after the others (a refused token, a bad intent) the supervisor does.
    created.on(Events.ShardReconnecting, () => connection?.interrupted('gateway reconnecting'));
    created.on(Events.ShardResume, () => connection?.restored());
    created.on(Events.ShardReady, () => connection?.restored());
    created.on(Events.ShardDisconnect, (event) => connection?.lost(`gateway closed with code ${event.code}`));
    return created;
  }

  let client = gatewayClient();
  let loggedIn = false;
  const close = async () => {
    connection = undefined;
    await client.destroy();
  };
  return {
    get client() {
      return client;
    },
    transport: {
      name: 'discord',
      label: 'Discord',
      connect: async (events) => {
        // A refused token answers 401 here; the gateway login alone would not tell it from an outage.
        await tokenCheck.get(Routes.user('@me')).catch((error: unknown) => {
          throw error instanceof DiscordAPIError && error.status === 401 ? new CredentialsRejected('401 Unauthorized') : error;
        });
        if (loggedIn) client = gatewayClient();
        loggedIn = true;
        connection = events;
        const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
        await client.login(token);
        await ready;
      },
      disconnect: close,
    },
    // Straight through REST: a DM needs no gateway session (or its cache) to go out.
    sendDirectMessage: async (userId, text) => {
      const channel = (await rest.post(Routes.userChannels(), { body: { recipient_id: userId } })) as { id: string };
      await rest.post(Routes.channelMessages(channel.id), { body: { content: text } });
    },
    close,
  };
}
