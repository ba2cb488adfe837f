import type { DailyUsage } from '../../core/reports/dailyUsage.js';
import { html, type Html } from './html.js';

/** The daily usage chart as inline SVG: one bar a day, labelled, no script needed. */
export function usageChart(usage: DailyUsage): Html {
  const width = 720;
  const height = 160;
  const bottom = 20;
  const barWidth = width / usage.days.length;
  const max = usage.days.reduce((m, d) => (d.used > m ? d.used : m), 1n);
  const bars = usage.days.map((day, i) => {
    const used = day.used > 0n ? day.used : 0n;
    const barHeight = Number((used * BigInt(height - bottom - 10)) / max);
    return html`<rect x="${(i * barWidth + 1).toFixed(1)}" y="${height - bottom - barHeight}" width="${(barWidth - 2).toFixed(1)}" height="${barHeight}" fill="#4a6fd6"><title>${day.date}: ${day.used.toString()} credits, ${day.transactions} transactions</title></rect>`;
  });
  const first = usage.days[0]?.date ?? '';
  const last = usage.days.at(-1)?.date ?? '';
  return html`<svg role="img" aria-label="Daily credit usage, last ${usage.days.length} days" viewBox="0 0 ${width} ${height}" width="100%" height="${height}" preserveAspectRatio="xMinYMid meet">
${bars}
<text x="0" y="${height - 4}" font-size="11" fill="#6b7385">${first}</text>
<text x="${width}" y="${height - 4}" font-size="11" fill="#6b7385" text-anchor="end">${last}</text>
</svg>
<p class="muted">Total ${usage.total.toLocaleString('en')} credits used, ${usage.averagePerDay} a day on average (${usage.timeZone}).</p>`;
}
