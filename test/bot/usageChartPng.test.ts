import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { usageChartPng } from '../../bot/charts/usageChartPng.js';
import type { DailyUsage } from '../../core/reports/dailyUsage.js';

/** Reads back the PNG: its size, and the colour of one pixel (x, y from the top left). */
function decode(png: Buffer) {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  let offset = 8;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('ascii', offset + 4, offset + 8);
    if (type === 'IDAT') idat.push(png.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe(height * (1 + width * 3));
  const pixel = (x: number, y: number) => [...raw.subarray(y * (1 + width * 3) + 1 + x * 3, y * (1 + width * 3) + 4 + x * 3)];
  return { width, height, pixel };
}

function usage(values: number[]): DailyUsage {
  return {
    timeZone: 'UTC',
    days: values.map((used, i) => ({ date: `2026-11-${String(i + 1).padStart(2, '0')}`, used: BigInt(used), transactions: used ? 1 : 0 })),
    total: BigInt(values.reduce((a, b) => a + b, 0)),
    averagePerDay: 0,
  };
}

describe('the 30-day chart as a PNG', () => {
  it('is a valid PNG with one bar a day, the tallest day reaching the top and empty days empty', () => {
    const values = Array.from({ length: 30 }, (_, i) => (i === 9 ? 120 : i === 20 ? 60 : 0));
    const { width, height, pixel } = decode(usageChartPng(usage(values)));
    expect([width, height]).toEqual([600, 200]);
    const slot = (600 - 24) / 30;
    const middleOf = (day: number) => Math.round(12 + day * slot + slot / 2);
    expect(pixel(middleOf(9), 13)).toEqual([74, 111, 214]); // day 10: full height
    expect(pixel(middleOf(20), 13)).toEqual([255, 255, 255]); // day 21: half height, so not at the top…
    expect(pixel(middleOf(20), 150)).toEqual([74, 111, 214]); // …but in the lower half
    expect(pixel(middleOf(3), 150)).toEqual([255, 255, 255]); // an empty day
  });

  it('draws an empty month as an empty chart', () => {
    const { pixel } = decode(usageChartPng(usage(Array.from({ length: 30 }, () => 0))));
    expect(pixel(300, 100)).toEqual([255, 255, 255]);
  });
});
