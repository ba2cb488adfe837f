import nock from 'nock';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { openAccount } from '../../core/accounts/openAccount.js';
import type { CoreContext } from '../../core/context.js';
import type { EntryType } from '../../core/db/generated/enums.js';
import { claimLinkCode } from '../../core/identity/claimLinkCode.js';
import { createLinkCode } from '../../core/identity/createLinkCode.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { inDays, key, service } from '../support/scenario.js';

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

/**
 * Seeds 000 and 002, as the console test writes them: a monthly grant of 325 (plan credits for
 * 30 days), 50 purchased, then four image generations (3 images each), 20 chat messages and a
 * submission of six 8-second clips (in flight). Together they use 144 credits.
 */
export async function seedMonthOfUse(ctx: CoreContext, accountId: string): Promise<void> {
  await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'PLAN_GRANT', bucket: 'PLAN', amount: 325n, expiresAt: inDays(30) });
  await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 50n });
  for (let i = 0; i < 4; i++) await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 3 }, source: { kind: 'project', id: `p${i}` } });
  await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 20 } });
  await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'submission', clipSeconds: [8, 8, 8, 8, 8, 8] } });
}

/** How many entries of one type the account has (a replayed staff command must add one, not two). */
export async function entriesOfType(ctx: CoreContext, accountId: string, type: EntryType): Promise<number> {
  return ctx.db.prisma.entry.count({ where: { accountId, type } });
}
