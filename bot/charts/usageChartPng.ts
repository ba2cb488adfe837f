import { crc32, deflateSync } from 'node:zlib';
import type { DailyUsage } from '../../core/reports/dailyUsage.js';

/**
 * The 30-day chart as a PNG drawn pixel by pixel and encoded with node's zlib: no browser, canvas or native
 * module. Its text goes in the message, where the chat client renders it.
 */
const width = 600;
const height = 200;
const margin = 12;
const background: Rgb = [255, 255, 255];
const bar: Rgb = [74, 111, 214];
const today: Rgb = [37, 64, 143];
const axis: Rgb = [200, 205, 215];
type Rgb = [number, number, number];

export function usageChartPng(usage: DailyUsage): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  fill(pixels, 0, 0, width, height, background);
  const plotHeight = height - 2 * margin;
  const slot = (width - 2 * margin) / usage.days.length;
  const max = usage.days.reduce((m, d) => (d.used > m ? d.used : m), 0n);
  usage.days.forEach((day, i) => {
    if (max === 0n || day.used <= 0n) return;
    const barHeight = Math.max(1, Number((day.used * BigInt(plotHeight)) / max));
    const x = Math.round(margin + i * slot + 1);
    fill(pixels, x, height - margin - barHeight, Math.max(1, Math.round(slot) - 2), barHeight, i === usage.days.length - 1 ? today : bar);
  });
  fill(pixels, margin, height - margin, width - 2 * margin, 1, axis);
  return encodePng(pixels);
}

function fill(pixels: Buffer, x: number, y: number, w: number, h: number, [r, g, b]: Rgb): void {
  for (let row = Math.max(0, y); row < Math.min(height, y + h); row++) {
    for (let column = Math.max(0, x); column < Math.min(width, x + w); column++) {
      const at = (row * width + column) * 3;
      pixels[at] = r;
      pixels[at + 1] = g;
      pixels[at + 2] = b;
    }
  }
}

function encodePng(pixels: Buffer): Buffer {
  // Each scanline starts with its filter type (0: none).
  const raw = Buffer.alloc(height * (1 + width * 3));
  for (let row = 0; row < height; row++) pixels.copy(raw, row * (1 + width * 3) + 1, row * width * 3, (row + 1) * width * 3);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
