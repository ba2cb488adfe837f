import { z } from 'zod';
import { ActorKind, AutoReloadChargeStatus, BucketKind, EntryType, MemberRole, OwnerKind } from '../core/db/generated/enums.js';
import { errorCodes } from '../core/errors.js';

/**
 * Replies as on the wire (credits decimal strings, times ISO 8601), for /v1/openapi.json and the API tests;
 * strict, so a field the server adds without describing it fails those tests.
 */
export const components = z.registry<{ id: string }>();

function component<T extends z.ZodType>(id: string, schema: T): T {
  components.add(schema, { id });
  return schema;
}

export const credits = component('Credits', z.string().regex(/^-?\d+$/).meta({ description: 'A whole number of credits as a decimal string', example: '-88' }));
const time = z.iso.datetime();
const nullableTime = time.nullable();

export const Source = component(
  'Source',
  z.strictObject({ kind: z.string().optional(), id: z.string().optional(), label: z.string().optional(), url: z.string().optional() }),
);
export const Actor = component('Actor', z.strictObject({ kind: z.enum(ActorKind), id: z.string().nullable() }));

export const Entry = component(
  'Entry',
  z.strictObject({
    id: z.uuid(),
    accountId: z.uuid(),
    seq: z.string(),
    type: z.enum(EntryType),
    label: z.string(),
    category: z.string().nullable(),
    action: z.string().nullable(),
    quantity: z.number().nullable(),
    description: z.string(),
    amount: credits,
    balanceAfter: credits,
    outstandingAfter: credits,
    originalAmount: credits.nullable(),
    discountPercent: z.number().nullable(),
    source: Source,
    actor: Actor,
    note: z.string().nullable(),
    idempotencyKey: z.string(),
    correctsId: z.uuid().nullable(),
    groupSeq: z.string(),
    createdAt: time.meta({ description: 'When it was written and the balance moved (entries are in this order)' }),
    occurredAt: nullableTime.meta({ description: 'When usage reported late happened (usage reports count it then); null: at createdAt' }),
    movements: z.array(z.strictObject({ bucketId: z.uuid(), amount: credits })),
  }),
);

/** A ledger write: the entries it posted (its own first) and the account after it. */
const ledgerWriteShape = { entries: z.array(Entry), balance: credits, outstanding: credits };
export const LedgerWrite = component('LedgerWrite', z.strictObject(ledgerWriteShape));
export const UsageWrite = component(
  'UsageWrite',
  z.strictObject({ ...ledgerWriteShape, depositId: z.uuid().nullable().meta({ description: 'Set when the charge opened a deposit' }) }),
);

/** A grant or purchase dated in the future (effectiveAt): it lands then, under its key, unless cancelled before. */
export const Scheduled = component(
  'Scheduled',
  z.strictObject({
    id: z.uuid(),
    operation: z.enum(['grant', 'purchase']),
    status: z.enum(['pending', 'landed', 'failed', 'cancelled']),
    amount: credits,
    bucket: z.enum(BucketKind),
    effectiveAt: time,
    expiresAt: nullableTime,
    reason: z.string().nullable(),
    scheduledBy: Actor,
    createdAt: time,
    landedEntryId: z.uuid().nullable(),
    landedAt: nullableTime,
    failure: z.string().nullable(),
    cancelledAt: nullableTime,
    cancelledBy: Actor.nullable(),
    cancelReason: z.string().nullable(),
  }),
);
export const ScheduledWrite = component(
  'ScheduledWrite',
  z.strictObject({
    scheduled: Scheduled,
  }),
);
export const ScheduledList = component('ScheduledList', z.strictObject({ scheduled: z.array(Scheduled) }));

/** POST …/quote: what a spend of this usage would do now, written nowhere. */
export const UsageQuote = component(
  'UsageQuote',
  z.strictObject({
    cost: z.strictObject({
      category: z.string(),
      description: z.string(),
      quantity: z.number().int(),
      amount: credits,
      deposit: credits,
      charged: credits,
      discountPercent: z.number().int().nullable(),
    }),
    affordable: z.boolean(),
    balanceBefore: credits,
    balanceAfter: credits,
    outstandingAfter: credits,
    buckets: z.array(z.strictObject({ bucketId: z.uuid(), kind: z.enum(BucketKind), amount: credits, expiresAt: nullableTime })),
    autoReload: z.strictObject({ credits }).nullable(),
    refusal: z.strictObject({ code: z.enum(errorCodes), message: z.string(), details: z.record(z.string(), z.unknown()) }).nullable(),
  }),
);

export const ErrorBody = component(
  'Error',
  z.strictObject({
    error: z.strictObject({
      code: z.enum(errorCodes),
      message: z.string(),
      requestId: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  }),
);

export const OpenedAccount = component(
  'OpenedAccount',
  z.strictObject({ accountId: z.uuid(), ownerKind: z.enum(OwnerKind), ownerId: z.uuid(), created: z.boolean() }),
);
export const Membership = component('Membership', z.strictObject({ organisationId: z.uuid(), userId: z.uuid(), role: z.enum(MemberRole) }));

const inFlightDeposits = z.strictObject({ count: z.number().int(), amount: credits });
export const Balance = component(
  'Balance',
  z.strictObject({
    accountId: z.uuid(),
    available: credits,
    outstanding: credits,
    kinds: z.array(
      z.strictObject({
        kind: z.enum(BucketKind),
        remaining: credits,
        nextExpiry: nullableTime,
        lots: z.array(z.strictObject({ remaining: credits, expiresAt: nullableTime })),
      }),
    ),
    inFlightDeposits,
    usedThisPeriod: z.strictObject({ period: z.string(), used: credits, transactions: z.number().int() }),
    plan: z
      .strictObject({
        id: z.string(),
        name: z.string(),
        status: z.enum(['ACTIVE', 'CANCELLED']),
        allocation: z.number().int(),
        period: z.enum(['week', 'month']),
        periodStart: time,
        periodEnd: time,
        nextGrant: z.strictObject({ at: time, credits: z.number().int() }).nullable(),
        usedThisPeriod: credits,
        usageRatePercent: z.number(),
      })
      .nullable(),
    costPerCredit: z.strictObject({ amount: z.string(), currency: z.string() }).nullable(),
  }),
);

/** GET …/balance?at=: the balance and each bucket as they stood at an instant (core/reports/balanceAt.ts). */
export const BalanceAt = component(
  'BalanceAt',
  z.strictObject({
    accountId: z.uuid(),
    at: time,
    opened: z.boolean().meta({ description: 'false: `at` is before the account was opened (all 0, no buckets)' }),
    entry: z.strictObject({ seq: z.string(), createdAt: time }).nullable().meta({ description: 'The last entry at or before `at`; null: none yet' }),
    balance: credits,
    available: credits,
    outstanding: credits,
    buckets: z.array(z.strictObject({ id: z.uuid(), kind: z.enum(BucketKind), remaining: credits, expiresAt: nullableTime, expired: z.boolean() })),
  }),
);

export const ActivityRow = component(
  'ActivityRow',
  z.strictObject({
    entryId: z.uuid(),
    seq: z.string(),
    type: z.enum(EntryType),
    label: z.string(),
    filter: z.enum(['ADDED', 'USED', 'ADJUSTMENTS']),
    category: z.string().nullable(),
    action: z.string().nullable(),
    description: z.string(),
    source: Source,
    actor: Actor,
    note: z.string().nullable(),
    startedAt: time,
    endedAt: time,
    occurredAt: nullableTime.meta({ description: 'When usage reported late happened (such a row is one entry); null: at startedAt' }),
    count: z.number().int(),
    quantity: z.number().nullable(),
    amount: credits,
    balanceAfter: credits,
    originalAmount: credits.nullable(),
    discountPercent: z.number().nullable(),
  }),
);
export const ActivityPage = component(
  'ActivityPage',
  z.strictObject({
    rows: z.array(ActivityRow),
    showing: z.strictObject({ from: z.number().int(), to: z.number().int(), total: z.number().int() }),
    next: z.string().nullable(),
    previous: z.string().nullable(),
  }),
);

export const DailyUsage = component(
  'DailyUsage',
  z.strictObject({
    timeZone: z.string(),
    days: z.array(z.strictObject({ date: z.string(), used: credits, transactions: z.number().int() })),
    total: credits,
    averagePerDay: z.number(),
  }),
);
export const MonthlySummary = component(
  'MonthlySummary',
  z.strictObject({
    timeZone: z.string(),
    months: z.array(z.strictObject({ month: z.string(), current: z.boolean(), used: credits, transactions: z.number().int() })),
  }),
);

export const Subscription = component(
  'Subscription',
  z.strictObject({
    id: z.uuid(),
    accountId: z.uuid(),
    plan: z.string(),
    status: z.enum(['ACTIVE', 'CANCELLED']),
    timeZone: z.string(),
    anchorAt: time,
    periodIndex: z.number().int(),
    periodStart: time,
    periodEnd: time,
    cancelledAt: nullableTime,
    updatedAt: time,
  }),
);
export const SubscriptionWrite = component(
  'SubscriptionWrite',
  z.strictObject({
    subscription: Subscription,
    entries: z.array(Entry),
    balance: credits.nullable().meta({ description: 'null when the change wrote no entry' }),
  }),
);
export const PlanList = component(
  'PlanList',
  z.strictObject({
    plans: z.array(
      z.strictObject({
        id: z.string(),
        name: z.string(),
        allocation: z.number().int(),
        period: z.enum(['week', 'month']),
        unused: z.enum(['reset', 'rollover']),
        rolloverCap: z.number().int().optional(),
      }),
    ),
  }),
);

export const AutoReload = component(
  'AutoReload',
  z.strictObject({ accountId: z.uuid(), enabled: z.boolean(), amount: credits.nullable(), monthlyLimit: credits.nullable(), usedThisMonth: credits }),
);
export const AutoReloadCharge = component(
  'AutoReloadCharge',
  z.strictObject({
    accountId: z.uuid(),
    chargeKey: z.string(),
    credits,
    status: z.enum(AutoReloadChargeStatus),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    chargeId: z.string().nullable(),
    reservedAt: time,
    lastAttemptAt: nullableTime,
    settledAt: nullableTime,
  }),
);

export const LinkCode = component('LinkCode', z.strictObject({ code: z.string(), expiresAt: time }));
export const Unlinked = component('Unlinked', z.strictObject({ unlinked: z.boolean() }));
export const AdReward = component(
  'AdReward',
  z.strictObject({ rewarded: z.boolean().meta({ description: 'false on a replay of a transaction already paid' }), entryId: z.uuid(), credits, balance: credits }),
);
export const PortalLink = component(
  'PortalLink',
  z.strictObject({ path: z.string(), expiresAt: time, sessionMinutes: z.number().int(), role: z.string().nullable(), mayPurchase: z.boolean() }),
);

export const AccountSummary = component(
  'AccountSummary',
  z.strictObject({
    accountId: z.uuid(),
    ownerKind: z.enum(OwnerKind),
    externalId: z.string(),
    name: z.string().nullable(),
    organisation: z.string().nullable(),
    balance: credits,
    outstanding: credits,
  }),
);
export const AuditPage = component(
  'AuditPage',
  z.strictObject({
    rows: z.array(
      z.strictObject({
        id: z.uuid(),
        at: time,
        actor: Actor,
        action: z.string(),
        outcome: z.string(),
        accountId: z.uuid().nullable(),
        entryId: z.uuid().nullable(),
        reason: z.string().nullable(),
        origin: z.record(z.string(), z.unknown()).nullable(),
        details: z.record(z.string(), z.unknown()).nullable(),
      }),
    ),
    next: z.string().nullable(),
  }),
);

const whyGroup = z.strictObject({
  type: z.enum(EntryType),
  label: z.string(),
  category: z.string().nullable(),
  action: z.string().nullable(),
  count: z.number().int(),
  quantity: z.number().nullable(),
  amount: credits,
});
const whyNoteShape = { entryId: z.uuid(), at: time, occurredAt: nullableTime, type: z.enum(EntryType), amount: credits, note: z.string().nullable(), actor: Actor };
const whyNote = z.strictObject(whyNoteShape);
const describedNote = z.strictObject({ ...whyNoteShape, description: z.string() });
const countAndAmount = { count: z.number().int(), amount: credits };
const gapShape = { expected: credits, difference: credits };
export const WhyExplanation = component(
  'WhyExplanation',
  z.strictObject({
    accountId: z.uuid(),
    start: z.strictObject({
      reason: z.enum(['LAST_GRANT', 'SINCE', 'ACCOUNT_OPENED']),
      at: nullableTime,
      balance: credits,
      grant: z.strictObject({ entryId: z.uuid(), type: z.enum(EntryType), label: z.string(), amount: credits }).nullable(),
    }),
    end: z.strictObject({ at: time, balance: credits, outstanding: credits }),
    groups: z.array(whyGroup),
    entriesCounted: z.number().int(),
    total: credits,
    addsUp: z.boolean(),
    findings: z.array(
      z.discriminatedUnion('kind', [
        z.strictObject({ kind: z.literal('IN_FLIGHT_DEPOSITS'), ...countAndAmount }),
        z.strictObject({ kind: z.literal('PLAN_RESET'), amount: credits, bucketKinds: z.array(z.enum(BucketKind)) }),
        z.strictObject({ kind: z.literal('PURCHASED_UNTOUCHED'), remaining: credits }),
        z.strictObject({ kind: z.literal('AUTO_RELOAD'), ...countAndAmount }),
        z.strictObject({ kind: z.literal('AUTO_RELOAD_UNSETTLED'), ...countAndAmount, charges: z.array(AutoReloadCharge) }),
        z.strictObject({ kind: z.literal('ADMIN_ADJUSTMENT'), notes: z.array(whyNote) }),
        z.strictObject({ kind: z.literal('REROLL_BATCH'), ...countAndAmount }),
        z.strictObject({ kind: z.literal('OUTSTANDING'), amount: credits }),
      ]),
    ),
    attribution: z
      .strictObject({
        bySource: z.array(z.strictObject({ kind: z.string().nullable(), id: z.string().nullable(), label: z.string().nullable(), ...countAndAmount })),
        byActor: z.array(z.strictObject({ kind: z.enum(ActorKind), id: z.string().nullable(), ...countAndAmount })),
      })
      .nullable(),
    gap: z
      .discriminatedUnion('kind', [
        z.strictObject({ ...gapShape, kind: z.literal('MATCHES') }),
        z.strictObject({
          ...gapShape,
          kind: z.literal('WAS_EXPECTED_AFTER'),
          entry: z.strictObject({ ...whyNoteShape, balanceAfter: credits }),
          since: z.array(whyGroup),
          change: credits,
        }),
        z.strictObject({ ...gapShape, kind: z.literal('ONE_ENTRY'), entry: describedNote }),
        z.strictObject({ ...gapShape, kind: z.literal('LARGEST_MOVEMENTS'), entries: z.array(describedNote) }),
      ])
      .nullable(),
  }),
);

/** The CSV export: text, one line per entry (branded, so its route's handler returns a stream instead). */
export const csvText = z.string().brand<'csv'>().meta({ description: 'CSV, a header line then one line per entry, oldest first' });
