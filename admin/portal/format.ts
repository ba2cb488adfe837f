/**
 * Numbers, dates and times as the viewer reads them: in the host's language (Intl) and the
 * viewer's time zone, which every page names.
 */
export interface Formats {
  locale: string;
  timeZone: string;
  number(value: bigint | number): string;
  /** +25, −88, 0. */
  signed(value: bigint): string;
  at(date: Date): string;
  /** A time window on one day shows its day once: "12 Nov 2026, 14:02 – 14:06". */
  window(from: Date, to: Date): string;
  /** A calendar day of a report ("2026-11-12"). */
  day(date: string): string;
  /** A calendar month of a report ("2026-11"). */
  month(month: string): string;
  /** "Times in Europe/Madrid (CET)". */
  zoneLabel: string;
}

export function formatsFor(locale: string, timeZone: string): Formats {
  const numbers = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
  const signedNumbers = new Intl.NumberFormat(locale, { signDisplay: 'exceptZero' });
  const dateTime = new Intl.DateTimeFormat(locale, { timeZone, dateStyle: 'medium', timeStyle: 'short' });
  const time = new Intl.DateTimeFormat(locale, { timeZone, timeStyle: 'short' });
  const dayOf = new Intl.DateTimeFormat(locale, { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  const calendarDay = new Intl.DateTimeFormat(locale, { timeZone: 'UTC', day: 'numeric', month: 'short' });
  const calendarMonth = new Intl.DateTimeFormat(locale, { timeZone: 'UTC', month: 'long', year: 'numeric' });
  const zoneName = new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: 'short' }).formatToParts(new Date()).find((p) => p.type === 'timeZoneName')?.value;
  return {
    locale,
    timeZone,
    number: (value) => numbers.format(value),
    signed: (value) => signedNumbers.format(value),
    at: (date) => dateTime.format(date),
    window: (from, to) => {
      const [start, end] = [dateTime.format(from), dateTime.format(to)];
      if (start === end) return start; // within one minute
      return dayOf.format(from) === dayOf.format(to) ? `${start} – ${time.format(to)}` : `${start} – ${end}`;
    },
    day: (date) => calendarDay.format(new Date(`${date}T12:00:00Z`)),
    month: (month) => calendarMonth.format(new Date(`${month}-15T12:00:00Z`)),
    zoneLabel: `Times in ${timeZone}${zoneName && zoneName !== timeZone ? ` (${zoneName})` : ''}`,
  };
}
