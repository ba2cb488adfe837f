import nock from 'nock';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { openAccount } from '../../core/accounts/openAccount.js';
import type { CoreContext } from '../../core/context.js';
import { claimLinkCode } from '../../core/identity/claimLinkCode.js';
import { createLinkCode } from '../../core/identity/createLinkCode.js';

/** No real network: Discord and Slack are answered by nock; loopback (the Slack receiver) stays open. */
export function offline(): void {
  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
  });
  afterEach(() => nock.cleanAll());
  afterAll(() => nock.enableNetConnect());
}

/** A logger whose lines the test can read. */
export function recordingLogger() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** A user with an account, linked to a chat identity the way the website and /link do it. */
export async function linkedUser(ctx: CoreContext, userExternalId: string, provider: 'DISCORD' | 'SLACK', chatUserId: string): Promise<string> {
  const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: userExternalId } });
  const { code } = await createLinkCode(ctx, { userExternalId, provider });
  await claimLinkCode(ctx, { provider, externalId: chatUserId, code });
  return accountId;
}

/** Polls until `done` holds (a background send finished), failing after a few seconds. */
export async function eventually(done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
