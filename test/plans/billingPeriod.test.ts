import { describe, expect, it } from 'vitest';
import { periodAt, periodContaining } from '../../core/plans/billingPeriod.js';

describe('billing periods', () => {
  it('an anniversary on the 31st renews on the last day of shorter months, and on the 31st again after', () => {
    const anchor = new Date('2027-01-31T10:00:00+01:00'); // 10:00 in Berlin
    const starts = [0, 1, 2, 3, 13].map((i) => periodAt(anchor, 'Europe/Berlin', 'month', i).start.toISOString());
    expect(starts).toEqual([
      '2027-01-31T09:00:00.000Z',
      '2027-02-28T09:00:00.000Z',
      '2027-03-31T08:00:00.000Z', // summer time began on 28 March: still 10:00 in Berlin
      '2027-04-30T08:00:00.000Z',
      '2028-02-29T09:00:00.000Z', // a leap year
    ]);
  });

  it('a weekly period keeps its local time across a daylight-saving change', () => {
    const anchor = new Date('2027-03-08T14:00:00Z'); // Monday 09:00 in New York (EST)
    const next = periodAt(anchor, 'America/New_York', 'week', 1);
    expect(next.start.toISOString()).toBe('2027-03-15T13:00:00.000Z'); // 09:00 EDT
    expect(next.end.getTime() - next.start.getTime()).toBe(7 * 86_400_000);
  });

  it('finds the period containing a moment, the first one for a moment before the anchor', () => {
    const anchor = new Date('2026-01-15T00:00:00Z');
    expect(periodContaining(anchor, 'UTC', 'month', new Date('2026-11-21T12:00:00Z'))).toMatchObject({
      index: 10,
      start: new Date('2026-11-15T00:00:00Z'),
      end: new Date('2026-12-15T00:00:00Z'),
    });
    expect(periodContaining(anchor, 'UTC', 'month', new Date('2026-12-15T00:00:00Z')).index).toBe(11); // a boundary starts the next period
    expect(periodContaining(anchor, 'UTC', 'week', new Date('2026-01-01T00:00:00Z')).index).toBe(0);
  });
});
