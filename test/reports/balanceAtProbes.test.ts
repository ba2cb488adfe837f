import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CoreContext } from '../../core/context.js';
import { adjust } from '../../core/ledger/adjust.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { reconcileDeposit } from '../../core/ledger/reconcileDeposit.js';
import { refund } from '../../core/ledger/refund.js';
import { reversePurchase } from '../../core/ledger/reversePurchase.js';
import { spend } from '../../core/ledger/spend.js';
import { verifyLedger } from '../../core/ledger/verify.js';
import { voidDeposit } from '../../core/ledger/voidDeposit.js';
import { voidGrant } from '../../core/ledger/voidGrant.js';
import { writeOff } from '../../core/ledger/writeOff.js';
import { getBalanceAt } from '../../core/reports/balanceAt.js';
import { engines } from '../support/databases.js';
import { key, newUserAccount, service, staff, useFreshLedger } from '../support/scenario.js';
import { balanceAtByWalkingMovements } from './balanceAtByWalkingMovements.js';

/**
 * The buckets at an instant from one probe per bucket (each movement's remaining after, by seq)
 * must be exactly what walking the log's movements gave, on any history and at any instant. The
 * steps make every kind of movement: buckets opened (grants of every kind, some expiring at once:
 * resets), drawn across several buckets, expired, voided, returned to (refunds, deposits reconciled
 * or voided), paid toward outstanding by the next addition (two entries of one write on one
 * bucket), and bursts of concurrent spends, whose group commits put many entries on one bucket in
 * one write.
 */
const step = fc.oneof(
  fc.record({
    op: fc.constant('grant' as const),
    bucket: fc.constantFrom('PLAN', 'WEEKLY', 'BONUS', 'PROMO'),
    amount: fc.integer({ min: 1, max: 300 }),
    expiresSoon: fc.boolean(),
    priority: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
  }),
  fc.record({ op: fc.constant('purchase' as const), amount: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ op: fc.constant('spend' as const), amount: fc.integer({ min: 1, max: 250 }) }),
  fc.record({ op: fc.constant('burst' as const), spends: fc.integer({ min: 2, max: 40 }) }),
  fc.record({ op: fc.constant('submit' as const), clips: fc.array(fc.integer({ min: 4, max: 12 }), { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('reconcile' as const), delivered: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 3 }) }),
  fc.constant({ op: 'voidDeposit' as const }),
  fc.constant({ op: 'voidGrant' as const }),
  fc.constant({ op: 'refund' as const }),
  fc.constant({ op: 'reverse' as const }),
  fc.record({ op: fc.constant('adjust' as const), amount: fc.integer({ min: -50, max: 50 }).filter((n) => n !== 0) }),
  fc.record({ op: fc.constant('writeOff' as const), amount: fc.integer({ min: 1, max: 30 }) }),
  fc.constant({ op: 'wait' as const }),
);
type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

async function play(ctx: CoreContext, steps: Step[]): Promise<string> {
  const accountId = await newUserAccount(ctx);
  const base = () => ({ accountId, idempotencyKey: key(), actor: service });
  const usage: string[] = [];
  const additions: string[] = [];
  const purchases: string[] = [];
  const deposits: string[] = [];
  const refused = () => null; // refusals (INSUFFICIENT_CREDITS, NOTHING_TO_VOID…) are part of a random history
  const chat = (amount: number) => ({ charge: { amount: BigInt(amount), category: 'Chat', description: 'Chat turns' } });
  for (const s of steps) {
    if (s.op === 'grant') {
      const expiresAt = new Date(Date.now() + (s.expiresSoon ? 25 : 30 * 86_400_000));
      const type = s.bucket === 'WEEKLY' ? 'WEEKLY_GRANT' : s.bucket === 'PLAN' ? 'PLAN_GRANT' : 'SIGNUP_BONUS';
      const granted = await grant(ctx, { ...base(), type, bucket: s.bucket, amount: s.amount, expiresAt, priority: s.priority }).catch(refused);
      if (granted) additions.push(granted.entries.at(-1)!.id);
    } else if (s.op === 'purchase') {
      const bought = (await purchase(ctx, { ...base(), amount: s.amount }).catch(refused))?.entries.find((e) => e.type === 'PURCHASE');
      if (bought) additions.push(bought.id), purchases.push(bought.id);
    } else if (s.op === 'spend') {
      const spent = await spend(ctx, { ...base(), ...chat(s.amount) }).catch(refused);
      if (spent) usage.push(spent.entries.at(-1)!.id);
    } else if (s.op === 'burst') {
      await purchase(ctx, { ...base(), amount: s.spends });
      await Promise.all(Array.from({ length: s.spends }, () => spend(ctx, { ...base(), ...chat(1) }).catch(refused)));
    } else if (s.op === 'submit') {
      const submitted = await spend(ctx, { ...base(), charge: { action: 'submission', clipSeconds: s.clips } }).catch(refused);
      if (submitted && 'depositId' in submitted && typeof submitted.depositId === 'string') deposits.push(submitted.depositId);
    } else if (s.op === 'reconcile' && deposits.length > 0) {
      // Delivered longer than deposited draws more, or leaves the rest outstanding.
      await reconcileDeposit(ctx, { ...base(), depositId: deposits.pop()!, actual: { deliveredSeconds: s.delivered } }).catch(refused);
    } else if (s.op === 'voidDeposit' && deposits.length > 0) {
      await voidDeposit(ctx, { ...base(), depositId: deposits.pop()! }).catch(refused);
    } else if (s.op === 'voidGrant' && additions.length > 0) {
      await voidGrant(ctx, { ...base(), actor: staff, entryId: additions.shift()!, reason: 'granted by mistake' }).catch(refused);
    } else if (s.op === 'refund' && usage.length > 0) {
      await refund(ctx, { ...base(), entryId: usage.pop()! }).catch(refused);
    } else if (s.op === 'reverse' && purchases.length > 0) {
      await reversePurchase(ctx, { ...base(), entryId: purchases.pop()! }).catch(refused);
    } else if (s.op === 'adjust') {
      await adjust(ctx, { ...base(), actor: staff, amount: BigInt(s.amount), reason: 'random correction' }).catch(refused);
    } else if (s.op === 'writeOff') {
      await writeOff(ctx, { ...base(), actor: staff, amount: BigInt(s.amount), reason: 'random write-off' }).catch(refused);
    } else if (s.op === 'wait') {
      await new Promise((resolve) => setTimeout(resolve, 30)); // past the expiry of credits granted to expire soon
    }
  }
  return accountId;
}

describe.each(engines)('the balance at a time by probes against the walk of the movements on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  it('agrees exactly at every entry, a millisecond either side, and at random instants; the verifier finds the chain sound', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 16 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }), async (steps, fractions) => {
        const accountId = await play(ctx, steps);
        const report = await verifyLedger(ctx.db);
        expect(report.checks.filter((c) => c.violations.length > 0)).toEqual([]);
        const [span] = await ctx.db.sql.query<{ opened: Date; last: Date | null }>(
          'SELECT a.created_at AS opened, (SELECT max(created_at) FROM entries WHERE account_id = a.id) AS last FROM accounts a WHERE a.id = $1',
          [accountId],
        );
        const opened = new Date(span!.opened).getTime();
        const last = new Date(span!.last ?? span!.opened).getTime();
        const times = (await ctx.db.sql.query<{ t: Date }>('SELECT DISTINCT created_at AS t FROM entries WHERE account_id = $1', [accountId])).map((r) => new Date(r.t).getTime());
        const instants = [opened - 1, ...times.flatMap((t) => [t - 1, t, t + 1]), ...fractions.map((f) => Math.round(opened + f * (last + 5 - opened)))]
          .filter((t) => t <= Date.now())
          .map((t) => new Date(t));
        for (const at of instants) {
          const { accountId: _, at: __, opened: ___, ...probed } = await getBalanceAt(ctx, { accountId, at });
          expect(probed, at.toISOString()).toEqual(await balanceAtByWalkingMovements(ctx, accountId, at));
        }
      }),
      { numRuns: Number(process.env.BALANCE_AT_ORACLE_RUNS ?? 10) },
    );
  });
});
