import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoreContext } from '../../core/context.js';
import { CreditkeeperError } from '../../core/errors.js';
import { adjust } from '../../core/ledger/adjust.js';
import { getBalance } from '../../core/ledger/getBalance.js';
import { grant } from '../../core/ledger/grant.js';
import type { WriteResult } from '../../core/ledger/ledgerWrite.js';
import { purchase } from '../../core/ledger/purchase.js';
import { reconcileDeposit } from '../../core/ledger/reconcileDeposit.js';
import { refund } from '../../core/ledger/refund.js';
import { reversePurchase } from '../../core/ledger/reversePurchase.js';
import { spend } from '../../core/ledger/spend.js';
import { voidDeposit } from '../../core/ledger/voidDeposit.js';
import { writeOff } from '../../core/ledger/writeOff.js';
import { renewSubscription } from '../../core/plans/renewSubscription.js';
import { subscribe } from '../../core/plans/subscribe.js';
import { findSubscription } from '../../core/plans/subscriptionRecord.js';
import { engines, freshContext } from '../support/databases.js';
import { entryCount, expectLedgerSound, newUserAccount, service, staff } from '../support/scenario.js';

/**
 * Random sequences of every ledger operation on one account, plan changes and renewals included,
 * each step and its retry through either of two handles on the database, so that what one knows
 * of the account is often out of date. After each step: the balance is what the step reported, a
 * spend is denied exactly when it exceeds the balance, a failed step wrote nothing, and a retry of
 * a successful step changes nothing. At the end, every invariant.
 */
type Step =
  | { op: 'grant'; amount: number; days: number | null }
  | { op: 'purchase'; amount: number }
  | { op: 'spend'; amount: number }
  | { op: 'submit'; clips: number[] }
  | { op: 'reconcile'; pick: number; seconds: number }
  | { op: 'void'; pick: number }
  | { op: 'refund'; pick: number; amount: number }
  | { op: 'reverse'; pick: number }
  | { op: 'adjust'; amount: number }
  | { op: 'writeOff'; amount: number }
  | { op: 'subscribe'; plan: 'free' | 'starter' | 'growth' | 'scale' }
  | { op: 'renew' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('grant' as const), amount: fc.integer({ min: 1, max: 60 }), days: fc.option(fc.integer({ min: 1, max: 40 })) }),
  fc.record({ op: fc.constant('purchase' as const), amount: fc.integer({ min: 1, max: 80 }) }),
  fc.record({ op: fc.constant('spend' as const), amount: fc.integer({ min: 1, max: 70 }) }),
  fc.record({ op: fc.constant('submit' as const), clips: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constant('reconcile' as const), pick: fc.nat(), seconds: fc.integer({ min: 0, max: 60 }) }),
  fc.record({ op: fc.constant('void' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('refund' as const), pick: fc.nat(), amount: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('reverse' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('adjust' as const), amount: fc.integer({ min: -40, max: 40 }).filter((n) => n !== 0) }),
  fc.record({ op: fc.constant('writeOff' as const), amount: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ op: fc.constant('subscribe' as const), plan: fc.constantFrom('free' as const, 'starter' as const, 'growth' as const, 'scale' as const) }),
  fc.record({ op: fc.constant('renew' as const) }),
);

const noChange = { entries: [], balance: 0n, outstanding: 0n, replayed: false } satisfies WriteResult;

describe.each(engines)('random operation sequences on %s', (engine) => {
  let ctx: CoreContext;
  /** A second handle on the same database, knowing nothing of what the first wrote: as another process would. */
  let other: CoreContext;
  beforeAll(async () => {
    ctx = await freshContext(engine);
    other = { ...ctx, db: { ...ctx.db } };
  });
  afterAll(async () => {
    await ctx.db.close();
  });

  it('keep every invariant after every step', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(step, fc.boolean()), { minLength: 5, maxLength: 25 }), async (steps) => {
        run += 1;
        const accountId = await newUserAccount(ctx);
        const usage: string[] = [];
        const purchases: string[] = [];
        const deposits: string[] = [];
        const pick = <T>(list: T[], n: number) => list[n % Math.max(list.length, 1)];
        for (const [i, [s, swapped]] of steps.entries()) {
          const [first, second] = swapped ? [other, ctx] : [ctx, other];
          const idempotencyKey = `r${run}-s${i}`;
          const before = await getBalance(ctx, { accountId });
          const entriesBefore = await entryCount(ctx, accountId);
          const base = { accountId, idempotencyKey, actor: service };
          const expiry = s.op === 'grant' && s.days ? { expiresAt: new Date(Date.now() + s.days * 86_400_000) } : {};
          // Read once per step, so the retry below renews the same period (renewing early: the grant is what is tested).
          const subscription = s.op === 'renew' ? await findSubscription(ctx.db.sql, accountId) : null;
          const attempt = (on: CoreContext): Promise<WriteResult & { depositId?: string | null }> | undefined => {
            switch (s.op) {
              case 'grant':
                return grant(on, { ...base, type: 'PLAN_GRANT', bucket: 'PLAN', amount: s.amount, ...expiry });
              case 'purchase':
                return purchase(on, { ...base, amount: s.amount });
              case 'spend':
                return spend(on, { ...base, charge: { amount: s.amount, category: 'Chat', description: 'Chat turns' } });
              case 'submit':
                return spend(on, { ...base, charge: { action: 'submission', clipSeconds: s.clips } });
              case 'reconcile': {
                const depositId = pick(deposits, s.pick);
                return depositId ? reconcileDeposit(on, { ...base, depositId, actual: { deliveredSeconds: [s.seconds] } }) : undefined;
              }
              case 'void': {
                const depositId = pick(deposits, s.pick);
                return depositId ? voidDeposit(on, { ...base, depositId }) : undefined;
              }
              case 'refund': {
                const entryId = pick(usage, s.pick);
                return entryId ? refund(on, { ...base, entryId, amount: s.amount }) : undefined;
              }
              case 'reverse': {
                const entryId = pick(purchases, s.pick);
                return entryId ? reversePurchase(on, { ...base, entryId }) : undefined;
              }
              case 'adjust':
                return adjust(on, { ...base, actor: staff, amount: s.amount, reason: 'random correction' });
              case 'writeOff':
                return writeOff(on, { ...base, actor: staff, amount: s.amount, reason: 'random writeoff' });
              case 'subscribe':
                // A first subscription, or a plan change (prorated or a new cycle); the same plan again writes nothing.
                return subscribe(on, { ...base, plan: s.plan }).then(({ write }) => write ?? noChange);
              case 'renew':
                return subscription ? renewSubscription(on, subscription).then(({ write }) => write) : undefined;
            }
          };
          const pending = attempt(first);
          if (!pending) continue;
          const result = await pending.catch((error: unknown) => {
            if (!(error instanceof CreditkeeperError)) throw error;
            return error;
          });
          if (result === noChange) continue;
          const after = await getBalance(ctx, { accountId });
          if (result instanceof CreditkeeperError) {
            expect(await entryCount(ctx, accountId), `${s.op} failed with ${result.code} but wrote`).toBe(entriesBefore);
            expect(after.balance).toBe(before.balance);
            if (s.op === 'spend') expect(result.code).toBe('INSUFFICIENT_CREDITS');
            continue;
          }
          if (s.op === 'spend') expect(BigInt(s.amount) <= before.balance).toBe(true);
          expect(result.balance).toBe(after.balance);
          expect(after.balance).toBe(before.balance + result.entries.reduce((sum, e) => sum + e.amount, 0n));
          expect(after.balance >= 0n && after.outstanding >= 0n).toBe(true);
          const own = result.entries[0]!;
          if (own.type === 'USAGE') usage.push(own.id);
          if (own.type === 'PURCHASE') purchases.push(own.id);
          if (result.depositId) deposits.push(result.depositId);
          // A retry is answered from the first attempt and moves nothing.
          const retry = await attempt(second)!;
          expect(retry.replayed).toBe(true);
          expect(retry.entries.map((e) => e.id)).toEqual(result.entries.map((e) => e.id));
          expect((await getBalance(ctx, { accountId })).balance).toBe(after.balance);
        }
      }),
      { numRuns: engine === 'pglite' ? 25 : 15, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) },
    );
    await expectLedgerSound(ctx);
  });
});
