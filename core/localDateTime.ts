import { CreditkeeperError } from './errors.js';
import { fromWallClock } from './plans/billingPeriod.js';

// 2027-01-03, 2027-01-03 09:00, 2027-01-03T09:00:30, optionally with Z or an offset (then the zone is not needed).
const localPattern = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * A date and time as a person types it (a chat option, a datetime-local field), read in their
 * zone: the moment it names. Malformed or impossible (31 Feb, 25:00) is VALIDATION_FAILED on `path`.
 */
export function parseLocalDateTime(text: string, timeZone: string, path: string): Date {
  const match = localPattern.exec(text.trim());
  const refuse = () => new CreditkeeperError('VALIDATION_FAILED', `${path}: must be a date and time like 2027-01-03 09:00`, { path, issues: [{ path, message: 'must be a date and time like 2027-01-03 09:00' }] });
  if (!match) throw refuse();
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map((part) => (part === undefined ? undefined : Number(part))) as number[];
  const exact = new Date(Date.UTC(year!, month! - 1, day!, hour, minute, second));
  const valid = exact.getUTCFullYear() === year && exact.getUTCMonth() === month! - 1 && exact.getUTCDate() === day && exact.getUTCHours() === hour && exact.getUTCMinutes() === minute;
  if (!valid) throw refuse();
  const offset = match[7];
  if (offset === 'Z') return exact;
  if (offset) {
    const sign = offset.startsWith('-') ? -1 : 1;
    const [h, m] = offset.slice(1).split(':').map(Number) as [number, number];
    return new Date(exact.getTime() - sign * (h * 60 + m) * 60_000);
  }
  return fromWallClock({ year: year!, month: month!, day: day!, hour, minute, second, millisecond: 0 }, timeZone);
}
