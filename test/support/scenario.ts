import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect } from 'vitest';
import { openAccount } from '../../core/accounts/openAccount.js';
import type { CoreContext } from '../../core/context.js';
import { CreditkeeperError, type ErrorCode } from '../../core/errors.js';
import { getBalance } from '../../core/ledger/getBalance.js';
import { verifyLedger } from '../../core/ledger/verify.js';
import { type Engine, freshContext } from './databases.js';

export const service = { kind: 'SERVICE' } as const;
export const staff = { kind: 'STAFF', id: 'staff-ana' } as const;

/** A moment `days` from now (an expiry). */
export const inDays = (days: number) => new Date(Date.now() + days * 86_400_000);

export function key(label = 'op'): string {
  return `${label}-${randomUUID()}`;
}

export async function newUserAccount(ctx: CoreContext, externalId = `user-${randomUUID()}`): Promise<string> {
  return (await openAccount(ctx, { owner: { kind: 'USER', externalId } })).accountId;
}

export async function balanceOf(ctx: CoreContext, accountId: string): Promise<bigint> {
  return (await getBalance(ctx, { accountId })).balance;
}

/** Every invariant holds (fails with the verifier's report). */
export async function expectLedgerSound(ctx: CoreContext): Promise<void> {
  const report = await verifyLedger(ctx.db);
  expect(report.checks.filter((c) => c.violations.length > 0)).toEqual([]);
}

export async function expectError(promise: Promise<unknown>, code: ErrorCode): Promise<CreditkeeperError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(CreditkeeperError);
  expect((error as CreditkeeperError).code).toBe(code);
  return error as CreditkeeperError;
}

/** How many entries the account has: a denied or invalid write must not change it. */
export async function entryCount(ctx: CoreContext, accountId: string): Promise<number> {
  return ctx.db.prisma.entry.count({ where: { accountId } });
}

/**
 * A fresh ledger for one describe block: opened before its tests; after them, every invariant
 * must still hold, then it is closed.
 */
export function useFreshLedger(engine: Engine, poolSize?: number): CoreContext {
  const ctx = {} as CoreContext;
  beforeAll(async () => {
    Object.assign(ctx, await freshContext(engine, poolSize));
  });
  afterAll(async () => {
    if (!ctx.db) return;
    await expectLedgerSound(ctx);
    await ctx.db.close();
  });
  return ctx;
}
