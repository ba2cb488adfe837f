import type { Server } from 'node:http';
import type { CoreContext } from '../core/context.js';
import type { Logger } from '../core/logger.js';
import { type AppOptions, createApp } from './app.js';

export interface RunningServer {
  port: number;
  /** Stops taking connections and resolves once in-flight requests have finished. */
  close(): Promise<void>;
}

export async function startServer(ctx: CoreContext, logger: Logger, port: number, options: AppOptions = {}): Promise<RunningServer> {
  const app = createApp(ctx, logger, options);
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(port, () => resolve(listening));
  });
  // Slow or stuck clients cannot hold a connection for ever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
