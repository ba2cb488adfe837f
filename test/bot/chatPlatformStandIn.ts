import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * How the stand-in behaves: `hang` accepts every connection and never answers; `answer` is
 * Slack's auth.test and Discord's REST and gateway accepting the token; `revoked` refuses it
 * (auth.test says invalid_auth, Discord's REST 401, an open gateway closes with 4004).
 */
export type StandInMode = 'hang' | 'answer' | 'revoked';

/** SLACK_API_URL and DISCORD_API_URL for a stand-in on `port`: known before it starts, so a process can be refused first. */
export function standInApiUrls(port: number): { SLACK_API_URL: string; DISCORD_API_URL: string } {
  return { SLACK_API_URL: `http://127.0.0.1:${port}/slack/api/`, DISCORD_API_URL: `http://127.0.0.1:${port}/discord/api` };
}

/** Slack's Web API and Discord's REST API and gateway on one loopback port. */
export interface ChatPlatformStandIn {
  /** The paths of the requests that reached it (`slack auth.test`, `discord /users/@me`, `discord gateway`), answered or not. */
  readonly requests: string[];
  setMode(mode: StandInMode): void;
  close(): Promise<void>;
}

/** Discord's application and bot user id (any 17–20 digits). */
export const standInDiscordApplicationId = '100000000000000001';

/** Starts the stand-in on `port` (a port that refused connections until now). */
export async function startChatPlatformStandIn(port: number, initialMode: StandInMode): Promise<ChatPlatformStandIn> {
  let mode = initialMode;
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const gateways = new Set<WebSocket>();
  const gatewayUrl = `ws://127.0.0.1:${port}/gateway`;
  const webSockets = new WebSocketServer({ noServer: true });

  const server: Server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://stand-in').pathname);
    const platform = path.startsWith('/slack/') ? 'slack' : 'discord';
    requests.push(`${platform} ${path.replace(/^\/slack\/api\/|^\/discord\/api\/v\d+/, '')}`);
    if (mode === 'hang') return;
    if (platform === 'slack') answerSlack(path, response);
    else answerDiscord(path, response);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (request: IncomingMessage, socket, head) => {
    requests.push('discord gateway');
    if (mode === 'hang') return;
    webSockets.handleUpgrade(request, socket, head, (gateway) => runGateway(gateway));
  });

  function answerSlack(path: string, response: ServerResponse) {
    const body =
      path === '/slack/api/auth.test'
        ? mode === 'revoked'
          ? { ok: false, error: 'invalid_auth' }
          : { ok: true, url: 'https://studio.slack.com/', team: 'Studio', user: 'creditkeeper', team_id: 'T1', user_id: 'UBOT', bot_id: 'BBOT' }
        : { ok: false, error: 'unknown_method' };
    json(response, 200, body);
  }

  function answerDiscord(path: string, response: ServerResponse) {
    if (mode === 'revoked') return json(response, 401, { message: '401: Unauthorized', code: 0 });
    if (path.endsWith('/users/@me')) return json(response, 200, botUser);
    if (path.endsWith('/gateway/bot')) {
      return json(response, 200, { url: gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 } });
    }
    json(response, 404, { message: 'Unknown route', code: 0 });
  }

  /** The gateway's opening as Discord plays it: HELLO, then READY (no guilds) for the IDENTIFY, every heartbeat acknowledged. */
  function runGateway(gateway: WebSocket) {
    gateways.add(gateway);
    gateway.once('close', () => gateways.delete(gateway));
    gateway.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 41_250 } }));
    gateway.on('message', (data) => {
      const { op } = JSON.parse(String(data)) as { op: number };
      if (op === 1) gateway.send(JSON.stringify({ op: 11 }));
      if (op === 2) {
        const ready = { v: 10, user: botUser, guilds: [], session_id: 'stand-in-session', resume_gateway_url: gatewayUrl, shard: [0, 1], application: { id: standInDiscordApplicationId, flags: 0 } };
        gateway.send(JSON.stringify({ op: 0, t: 'READY', s: 1, d: ready }));
      }
    });
  }

  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    requests,
    setMode(next) {
      mode = next;
      // Discord closes a session whose token was reset with 4004, Authentication failed.
      if (next === 'revoked') for (const gateway of gateways) gateway.close(4004, 'Authentication failed');
    },
    async close() {
      for (const gateway of gateways) gateway.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const botUser = { id: standInDiscordApplicationId, username: 'creditkeeper', discriminator: '0', global_name: null, avatar: null, bot: true };

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
