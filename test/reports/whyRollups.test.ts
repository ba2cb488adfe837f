import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openAccount } from '../../core/accounts/openAccount.js';
import type { CoreContext } from '../../core/context.js';
import type { Actor } from '../../core/input.js';
import { adjust } from '../../core/ledger/adjust.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { reconcileDeposit } from '../../core/ledger/reconcileDeposit.js';
import { refund } from '../../core/ledger/refund.js';
import { reversePurchase } from '../../core/ledger/reversePurchase.js';
import { spend } from '../../core/ledger/spend.js';
import { voidDeposit } from '../../core/ledger/voidDeposit.js';
import { writeOff } from '../../core/ledger/writeOff.js';
import { explainBalance, type WhyExplanation } from '../../core/reports/why.js';
import { engines } from '../support/databases.js';
import { service, staff, useFreshLedger } from '../support/scenario.js';
import { explainBalanceByScanningTheLog } from './whyByScanningTheLog.js';

/**
 * /why from the rollups (whole blocks of 1,024 entries, plus the entries of the first partial
 * block) must say exactly what the old scan of the log says, on any history and for any window.
 * Bursts of concurrent spends make histories of several blocks, so windows start in the middle of
 * one, on a boundary, or in the last; the other steps bring every kind of entry /why names.
 */
const sources = [undefined, { kind: 'event', id: 'e1', label: 'Spring Marathon' }, { kind: 'event', id: 'e2', label: 'City Run' }, { kind: 'model', id: 'm1' }];
const actors: Actor[] = [service, { kind: 'SERVICE', id: 'studio' }, { kind: 'SYSTEM' }];

const step = fc.oneof(
  fc.record({ op: fc.constant('grant' as const), amount: fc.integer({ min: 1, max: 400 }), weekly: fc.boolean(), expiresSoon: fc.boolean() }),
  fc.record({ op: fc.constant('purchase' as const), amount: fc.integer({ min: 1, max: 300 }), autoReload: fc.boolean(), source: fc.nat(3) }),
  fc.record({
    op: fc.constant('spend' as const),
    action: fc.constantFrom('chat', 'image', 'reroll', 'persona_batch'),
    quantity: fc.integer({ min: 1, max: 12 }),
    source: fc.nat(3),
    actor: fc.nat(2),
    /** Reported late: it happened when the account opened (its entry lists say so; the balance moves now). */
    late: fc.boolean(),
  }),
  { arbitrary: fc.record({ op: fc.constant('burst' as const), entries: fc.integer({ min: 100, max: 1100 }), mix: fc.integer({ min: 1, max: 4 }) }), weight: 3 },
  fc.record({ op: fc.constant('submit' as const), clips: fc.array(fc.integer({ min: 4, max: 12 }), { minLength: 1, maxLength: 4 }), source: fc.nat(3) }),
  fc.record({ op: fc.constant('reconcile' as const), delivered: fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 4 }) }),
  fc.constant({ op: 'void' as const }),
  fc.constant({ op: 'refund' as const }),
  fc.constant({ op: 'reverse' as const }),
  fc.record({ op: fc.constant('adjust' as const), amount: fc.integer({ min: -60, max: 60 }).filter((n) => n !== 0) }),
  fc.record({ op: fc.constant('writeOff' as const), amount: fc.integer({ min: 1, max: 30 }) }),
  fc.constant({ op: 'wait' as const }),
  fc.constant({ op: 'mark' as const }),
);
type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

interface History {
  accountId: string;
  marks: Date[];
  balances: bigint[];
  amounts: bigint[];
}

async function play(ctx: CoreContext, organisation: boolean, steps: Step[]): Promise<History> {
  const { accountId } = await openAccount(ctx, {
    owner: organisation ? { kind: 'ORGANISATION', externalId: `org-${randomUUID()}`, name: 'Studio' } : { kind: 'USER', externalId: `u-${randomUUID()}` },
  });
  const history: History = { accountId, marks: [], balances: [], amounts: [] };
  const opened = (await ctx.db.prisma.account.findUniqueOrThrow({ where: { id: accountId } })).createdAt;
  const deposits: string[] = [];
  const usage: string[] = [];
  const purchases: string[] = [];
  const key = () => randomUUID();
  const base = () => ({ accountId, idempotencyKey: key(), actor: service });
  const seen = async (write: Promise<{ entries: { id: string; type: string; amount: bigint }[]; balance: bigint }>) => {
    const result = await write.catch(() => null); // refusals are part of a random history
    if (!result) return null;
    history.balances.push(result.balance);
    history.amounts.push(...result.entries.map((e) => e.amount));
    return result;
  };
  for (const s of steps) {
    if (s.op === 'grant') {
      const expiresAt = new Date(Date.now() + (s.expiresSoon ? 20 : 30 * 86_400_000));
      await seen(grant(ctx, { ...base(), type: s.weekly ? 'WEEKLY_GRANT' : 'PLAN_GRANT', bucket: s.weekly ? 'WEEKLY' : 'PLAN', amount: s.amount, expiresAt }));
    } else if (s.op === 'purchase') {
      const source = sources[s.source];
      const result = await seen(purchase(ctx, { ...base(), amount: s.amount, type: s.autoReload ? 'AUTO_RELOAD' : 'PURCHASE', ...(source && { source }) }));
      if (result) purchases.push(result.entries[0]!.id);
    } else if (s.op === 'spend') {
      const source = sources[s.source];
      const result = await seen(
        spend(ctx, { ...base(), actor: actors[s.actor]!, charge: { action: s.action, quantity: s.quantity }, ...(source && { source }), ...(s.late && { occurredAt: opened }) }),
      );
      if (result) usage.push(result.entries.at(-1)!.id);
    } else if (s.op === 'burst') {
      await seen(purchase(ctx, { ...base(), amount: s.entries }));
      // Concurrent spends go in group commits: flushes of many entries, some across a block's end.
      await Promise.all(
        Array.from({ length: s.entries }, (_, j) => {
          const source = sources[j % s.mix];
          return seen(spend(ctx, { ...base(), actor: actors[j % 2]!, charge: { action: 'chat', quantity: 1 }, ...(source && { source }) }));
        }),
      );
    } else if (s.op === 'submit') {
      const source = sources[s.source];
      const result = await seen(spend(ctx, { ...base(), charge: { action: 'submission', clipSeconds: s.clips }, ...(source && { source }) }));
      if (result && 'depositId' in result && typeof result.depositId === 'string') deposits.push(result.depositId);
    } else if (s.op === 'reconcile' && deposits.length > 0) {
      await seen(reconcileDeposit(ctx, { ...base(), depositId: deposits.pop()!, actual: { deliveredSeconds: s.delivered } }));
    } else if (s.op === 'void' && deposits.length > 0) {
      await seen(voidDeposit(ctx, { ...base(), depositId: deposits.pop()! }));
    } else if (s.op === 'refund' && usage.length > 0) {
      await seen(refund(ctx, { ...base(), entryId: usage.at(-1)! }));
    } else if (s.op === 'reverse' && purchases.length > 0) {
      await seen(reversePurchase(ctx, { ...base(), entryId: purchases.pop()! }));
    } else if (s.op === 'adjust') {
      await seen(adjust(ctx, { ...base(), actor: staff, amount: s.amount, reason: 'random correction' }));
    } else if (s.op === 'writeOff') {
      await seen(writeOff(ctx, { ...base(), actor: staff, amount: s.amount, reason: 'random writeoff' }));
    } else if (s.op === 'wait') {
      await new Promise((resolve) => setTimeout(resolve, 25)); // credits granted to expire soon have
    } else if (s.op === 'mark') {
      history.marks.push(new Date());
      await new Promise((resolve) => setTimeout(resolve, 2)); // the next entry is later than the mark
    }
  }
  return history;
}

/**
 * What both must agree on: everything but the moment each was read, with the orders the old
 * queries left to the database (kinds of reset credits, ties in attribution) put in one order.
 */
function comparable(why: WhyExplanation) {
  const { end, findings, attribution, ...rest } = why;
  const byKey = <T extends { amount: bigint; count: number; kind: string | null; id: string | null }>(rows: T[]) =>
    [...rows].sort((a, b) => (a.amount !== b.amount ? (a.amount < b.amount ? -1 : 1) : b.count - a.count || `${a.kind}/${a.id}`.localeCompare(`${b.kind}/${b.id}`)));
  return {
    ...rest,
    end: { balance: end.balance, outstanding: end.outstanding },
    findings: findings.filter((f) => oracleFindings.has(f.kind)).map((f) => (f.kind === 'PLAN_RESET' ? { ...f, bucketKinds: [...f.bucketKinds].sort() } : f)),
    attribution: attribution && { bySource: byKey(attribution.bySource), byActor: byKey(attribution.byActor) },
  };
}

/** What the old computation could find (a finding added since has no oracle). */
const oracleFindings = new Set(['IN_FLIGHT_DEPOSITS', 'PLAN_RESET', 'PURCHASED_UNTOUCHED', 'AUTO_RELOAD', 'ADMIN_ADJUSTMENT', 'REROLL_BATCH', 'OUTSTANDING']);

describe.each(engines)('/why from rollups on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  it('says exactly what the scan of the whole log says, for every window and expected balance', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(step, { minLength: 1, maxLength: 16 }),
        fc.array(fc.oneof(fc.nat(5000).map(BigInt), fc.nat(50)), { maxLength: 3 }),
        async (organisation, steps, expectations) => {
          const history = await play(ctx, organisation, steps);
          // Expected balances: ones the account really had, ones an entry's amount away from now, arbitrary ones.
          const now = history.balances.at(-1) ?? 0n;
          const expected = expectations.map((e) =>
            typeof e === 'bigint' ? e : e % 2 === 0 ? (history.balances[e % Math.max(1, history.balances.length)] ?? 0n) : now - (history.amounts[e % Math.max(1, history.amounts.length)] ?? 0n),
          );
          const windows = [{}, { since: new Date(0) }, ...history.marks.map((since) => ({ since }))];
          for (const window of windows) {
            for (const expectedBalance of [undefined, ...expected.filter((e) => e >= 0n)]) {
              const input = { accountId: history.accountId, ...window, ...(expectedBalance !== undefined && { expectedBalance }) };
              const [fromRollups, fromTheLog] = [await explainBalance(ctx, input), await explainBalanceByScanningTheLog(ctx, input)];
              expect(comparable(fromRollups)).toEqual(comparable(fromTheLog));
            }
          }
        },
      ),
      { numRuns: Number(process.env.WHY_ORACLE_RUNS ?? 12) },
    );
  });
});
