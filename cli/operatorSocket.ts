import { mkdirSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { join } from 'node:path';
import { z } from 'zod';
import type { CoreContext } from '../core/context.js';
import { CreditkeeperError, isCreditkeeperError } from '../core/errors.js';
import { createLoginLink } from '../core/access/createLoginLink.js';
import type { Logger } from '../core/logger.js';

/**
 * While `start` owns the embedded database, the operator's CLI asks the running process over a Unix
 * socket in a directory only Creditkeeper's user can enter (mode 0700).
 */
export function operatorSocketPath(dataDir: string): string {
  return join(dataDir, 'operator', 'creditkeeper.sock');
}

const loginLinkRequest = z.strictObject({ staffId: z.string(), organisationExternalId: z.string().optional() });

export interface LoginLinkAnswer {
  url: string;
  expiresAt: string;
}

/** The link as the CLI prints it, whoever minted it. */
export function loginLinkLine(link: LoginLinkAnswer): string {
  return `${link.url} (valid until ${link.expiresAt}, once)`;
}

export async function mintLoginLink(ctx: CoreContext, port: number, input: z.input<typeof loginLinkRequest>): Promise<LoginLinkAnswer> {
  const link = await createLoginLink(ctx, input);
  return { url: `http://localhost:${port}/admin/login/${link.secret}`, expiresAt: link.expiresAt.toISOString() };
}

/** Serves POST /login-link on the socket until closed. */
export async function serveOperatorSocket(ctx: CoreContext, logger: Logger, dataDir: string, port: number): Promise<{ close(): Promise<void> }> {
  const path = operatorSocketPath(dataDir);
  mkdirSync(join(dataDir, 'operator'), { recursive: true, mode: 0o700 });
  // This process holds the database's lock: a socket left here is a dead process's.
  rmSync(path, { force: true });
  const server = createServer((req, res) => {
    const answer = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method !== 'POST' || req.url !== '/login-link') return answer(404, { code: 'NOT_FOUND', message: `No route ${req.method} ${req.url}` });
    let text = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (text += chunk.slice(0, 10_000)));
    req.on('end', () => {
      void (async () => {
        try {
          answer(200, await mintLoginLink(ctx, port, loginLinkRequest.parse(JSON.parse(text))));
        } catch (error) {
          if (!isCreditkeeperError(error)) logger.error({ err: error }, 'operator socket');
          answer(400, isCreditkeeperError(error) ? { code: error.code, message: error.message } : { code: 'INTERNAL', message: 'the running process could not make the link (see its log)' });
        }
      })();
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
  return {
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Asks the process that owns `dataDir` for a login link; CreditkeeperError with its code when it refuses. */
export function askForLoginLink(dataDir: string, input: z.input<typeof loginLinkRequest>): Promise<LoginLinkAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: operatorSocketPath(dataDir), path: '/login-link', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const body = JSON.parse(text) as LoginLinkAnswer & { code: never; message: string };
        if (res.statusCode === 200) resolve(body);
        else reject(new CreditkeeperError(body.code, body.message));
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(input));
  });
}
