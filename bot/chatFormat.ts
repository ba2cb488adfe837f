import { randomUUID } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import type { ActivityRow } from '../core/reports/activity.js';
import type { BalanceBreakdown } from '../core/reports/balanceBreakdown.js';

/** Pieces of wording the Discord, Slack and console renderers share, so a row reads the same in each. */

export function credits(value: bigint): string {
  return value.toLocaleString('en');
}

export function signedCredits(value: bigint): string {
  return value > 0n ? `+${credits(value)}` : credits(value);
}

/** The "activity" column: the category (or the entry's label), with the count of a group. */
export function activityName(row: ActivityRow): string {
  return `${row.category ?? row.label}${row.count > 1 ? ` ×${row.count}` : ''}`;
}

/** The "source" column: its label (or id), and its link where one exists. */
export function activitySource(row: ActivityRow): { text: string; url: string | null } | null {
  const text = row.source.label ?? row.source.id ?? row.source.kind;
  return text ? { text, url: row.source.url ?? null } : null;
}

/** What a discounted row adds after its amount. */
export function discountText(row: ActivityRow): string {
  return row.originalAmount !== null ? ` (was ${credits(row.originalAmount)}, ${row.discountPercent ?? ''}% off)` : '';
}

/** Long text cut to what a chat field can hold, saying so. */
export function clipText(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

/** A count with its noun, singular or plural: `1 submission`, `3 submissions`, `1 entry` (plural given). */
export function counted(count: number | bigint, singular: string, plural = `${singular}s`): string {
  return `${count.toLocaleString('en')} ${count === 1 || count === 1n ? singular : plural}`;
}

/** The line that names the zone a message's times are in. */
export function zoneNote(timeZone: string): string {
  return `Times in ${timeZone}.`;
}

/** A date and time in a zone, as people read it ("12 Nov 2026, 14:05"). */
export function zonedTime(date: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, dateStyle: 'medium', timeStyle: 'short' }).format(date);
}

/** An unexpected failure outside the commands (a database down while resolving the caller): logged with a reference the user can quote. */
export function unexpectedErrorText(logger: Logger, error: unknown, details: Record<string, unknown>): string {
  const ref = randomUUID().slice(0, 8);
  logger.error({ err: error, ref, ...details }, 'chat request failed');
  return `Something went wrong (ref ${ref}).`;
}

/** What the presser of a button the bot cannot read (an old message's, another version's) is told. */
export const staleButtonText = 'That button no longer works: run /activity again.';

/** A kind of credit as a word: PLAN → Plan. */
export function creditKindName(kind: string): string {
  return kind.charAt(0) + kind.slice(1).toLowerCase();
}

/** The lines under /credits' per-kind amounts: owed, in flight, the plan (or this month's use), the price of a credit. */
export function creditsNotes(b: BalanceBreakdown, at: (date: Date) => string): string[] {
  return [
    ...(b.outstanding > 0n ? [`Outstanding ${credits(b.outstanding)} (paid first by your next top-up)`] : []),
    ...(b.inFlightDeposits.count > 0 ? [`In flight: ${counted(b.inFlightDeposits.count, 'submission')}, ${credits(b.inFlightDeposits.amount)} credits deducted at submit`] : []),
    ...(b.plan
      ? [
          `${b.plan.name} plan: used ${credits(b.plan.usedThisPeriod)} of ${credits(BigInt(b.plan.allocation))} this ${b.plan.period} (${b.plan.usageRatePercent}%)`,
          b.plan.nextGrant ? `Next grant: +${credits(BigInt(b.plan.nextGrant.credits))} on ${at(b.plan.nextGrant.at)}` : `Cancelled: no more grants after ${at(b.plan.periodEnd)}`,
        ]
      : [`Used in ${b.usedThisPeriod.period}: ${credits(b.usedThisPeriod.used)} credits (${counted(b.usedThisPeriod.transactions, 'transaction')})`]),
    ...(b.costPerCredit ? [`One credit costs ${b.costPerCredit.amount} ${b.costPerCredit.currency}`] : []),
  ];
}
