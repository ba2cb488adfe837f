import type { DailyUsage } from '../../core/reports/dailyUsage.js';
import { html, type Html } from '../page/html.js';
import type { Formats } from './format.js';

/**
 * The Daily Credit Usage (last 30 days) as SVG bars that stretch to any width; the words
 * (days, total, average) are HTML beside it, so they never stretch with it.
 */
export function usageChart(usage: DailyUsage, f: Formats): Html {
  const width = usage.days.length * 10;
  const height = 100;
  const max = usage.days.reduce((m, d) => (d.used > m ? d.used : m), 0n);
  const bars = usage.days.map((day, i) => {
    const barHeight = max === 0n || day.used <= 0n ? 0 : Math.max(1, Number((day.used * BigInt(height)) / max));
    return html`<rect x="${i * 10 + 1}" y="${height - barHeight}" width="8" height="${barHeight}"><title>${f.day(day.date)}: ${f.number(day.used)} credits, ${f.number(day.transactions)} transactions</title></rect>`;
  });
  return html`<svg class="chart" role="img" aria-label="Daily credit usage, last ${usage.days.length} days: ${f.number(usage.total)} credits in all" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none">${bars}</svg>
<div class="axis muted"><span>${f.day(usage.days[0]!.date)}</span><span>${max > 0n ? `highest day ${f.number(max)}` : 'no usage yet'}</span><span>${f.day(usage.days.at(-1)!.date)}</span></div>
<p><strong>${f.number(usage.total)}</strong> credits used in ${usage.days.length} days · <strong>${f.number(usage.averagePerDay)}</strong> a day on average</p>`;
}
