/**
 * Period n starts n weeks or months after the anchor, at the same local time in the subscription's zone; an
 * anchor on the 29th–31st lands on the last day of shorter months and returns when the month is long enough.
 */
export type PeriodUnit = 'week' | 'month';

export interface Period {
  index: number;
  start: Date;
  end: Date;
}

export function periodAt(anchor: Date, timeZone: string, unit: PeriodUnit, index: number): Period {
  const local = wallClock(anchor, timeZone);
  return { index, start: periodStart(local, timeZone, unit, index), end: periodStart(local, timeZone, unit, index + 1) };
}

/** The period that contains `moment` (the first one if `moment` is before the anchor). */
export function periodContaining(anchor: Date, timeZone: string, unit: PeriodUnit, moment: Date): Period {
  const local = wallClock(anchor, timeZone);
  const target = wallClock(moment, timeZone);
  const estimate =
    unit === 'week'
      ? Math.floor((Date.UTC(target.year, target.month - 1, target.day) - Date.UTC(local.year, local.month - 1, local.day)) / (7 * 86_400_000))
      : (target.year - local.year) * 12 + (target.month - local.month);
  let index = Math.max(0, estimate - 1);
  while (periodStart(local, timeZone, unit, index + 1).getTime() <= moment.getTime()) index += 1;
  return periodAt(anchor, timeZone, unit, index);
}

/** Period `index`'s start, from the anchor's local time. */
function periodStart(local: WallClock, timeZone: string, unit: PeriodUnit, index: number): Date {
  if (unit === 'week') {
    return fromWallClock({ ...local, day: local.day + 7 * index }, timeZone);
  }
  const monthIndex = local.month - 1 + index;
  const year = local.year + Math.floor(monthIndex / 12);
  const month = (((monthIndex % 12) + 12) % 12) + 1;
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return fromWallClock({ ...local, year, month, day: Math.min(local.day, lastDay) }, timeZone);
}

/**
 * The latest local midnight at or before `now` on `day` of a month that has it, so an anniversary on the 31st
 * stays on the 31st.
 */
export function lastAnniversary(day: number, timeZone: string, now: Date): Date {
  const today = wallClock(now, timeZone);
  for (let back = 0; ; back++) {
    const monthIndex = today.month - 1 - back;
    const year = today.year + Math.floor(monthIndex / 12);
    const month = (((monthIndex % 12) + 12) % 12) + 1;
    if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) continue;
    const candidate = fromWallClock({ year, month, day, hour: 0, minute: 0, second: 0, millisecond: 0 }, timeZone);
    if (candidate.getTime() <= now.getTime()) return candidate;
  }
}

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The local date and time of `moment` in `timeZone`. */
export function wallClock(moment: Date, timeZone: string): WallClock {
  // Most subscriptions are in UTC, where Intl's formatting (~10 µs, six times a renewal) is not needed.
  if (timeZone === 'UTC') {
    return {
      year: moment.getUTCFullYear(),
      month: moment.getUTCMonth() + 1,
      day: moment.getUTCDate(),
      hour: moment.getUTCHours(),
      minute: moment.getUTCMinutes(),
      second: moment.getUTCSeconds(),
      millisecond: moment.getUTCMilliseconds(),
    };
  }
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(moment).map((p) => [p.type, Number(p.value)]));
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
    second: parts.second!,
    millisecond: moment.getUTCMilliseconds(),
  };
}

/**
 * A local wall-clock time as a moment in `timeZone` (day may overflow its month): in a DST gap the moment after
 * the gap, in an overlap the first of the two.
 */
export function fromWallClock(local: WallClock, timeZone: string): Date {
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second, local.millisecond);
  const offsetAt = (moment: number) => {
    const seen = wallClock(new Date(moment), timeZone);
    return Date.UTC(seen.year, seen.month - 1, seen.day, seen.hour, seen.minute, seen.second, seen.millisecond) - moment;
  };
  const first = asUtc - offsetAt(asUtc);
  const second = asUtc - offsetAt(first);
  return new Date(Math.min(first, second));
}
