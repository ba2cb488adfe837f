import type { WhyFinding } from '../../core/reports/why.js';
import type { UsageQuote } from '../../core/ledger/quoteUsage.js';
import type { ScheduledWriteView } from '../../core/ledger/scheduledWrites.js';
import { counted, creditKindName, creditsNotes, zonedTime, zoneNote } from '../chatFormat.js';
import type { View } from '../views.js';

/**
 * Plain text for a view: what the console prints, and what Discord and Slack fall back to where
 * rich layouts are off. Times are in the zone the view was made for, and the text names it.
 */
export function renderText(view: View): string {
  const at = (date: Date) => zonedTime(date, 'timeZone' in view ? view.timeZone : 'UTC');
  const n = (value: bigint) => value.toLocaleString('en');
  const signed = (value: bigint) => (value > 0n ? `+${n(value)}` : n(value));
  switch (view.kind) {
    case 'credits': {
      const b = view.breakdown;
      return [
        `${view.account}: ${n(b.available)} credits available`,
        ...b.kinds.map((k) => `  ${k.kind.toLowerCase().padEnd(10)} ${n(k.remaining).padStart(8)}  ${k.nextExpiry ? `expires ${at(k.nextExpiry)}` : 'never expires'}`),
        ...creditsNotes(b, at).map((line) => `  ${line}`),
        zoneNote(view.timeZone),
      ].join('\n');
    }
    case 'activity': {
      const p = view.page;
      if (p.rows.length === 0) return `${view.account}: no activity${view.filter === 'all' ? '' : ` (${view.filter})`} yet.`;
      return [
        `${view.account} — activity (${view.filter}), showing ${p.showing.from}–${p.showing.to} of ${p.showing.total}`,
        ...p.rows.map((r) => {
          const what = `${r.category ?? r.label}${r.count > 1 ? ` ×${r.count}` : ''}`;
          const discount = r.originalAmount !== null ? ` (was ${n(r.originalAmount)}, ${r.discountPercent ?? ''}% off)` : '';
          return `  ${at(r.startedAt).padEnd(20)} ${what.padEnd(28)} ${signed(r.amount).padStart(8)}${discount}  → ${n(r.balanceAfter)}${r.note ? `  “${r.note}”` : ''}`;
        }),
        ...(p.next ? [`  more: /activity filter:${view.filter} page:${p.next}`] : []),
        ...(p.previous ? [`  back: /activity filter:${view.filter} page:${p.previous}`] : []),
        zoneNote(view.timeZone),
      ].join('\n');
    }
    case 'why': {
      const e = view.explanation;
      const from =
        e.start.reason === 'LAST_GRANT'
          ? `your last ${e.start.grant!.label.toLowerCase()} on ${at(e.start.at!)}`
          : e.start.reason === 'SINCE'
            ? at(e.start.at!)
            : 'the start';
      return [
        `${view.account}: from ${from} your balance was ${n(e.start.balance)}.`,
        ...e.groups.map((g) => `  ${g.label.padEnd(28)} ${String(g.count).padStart(4)}×  ${signed(g.amount).padStart(8)}`),
        `  ${'total'.padEnd(28)}        ${signed(e.total).padStart(8)}`,
        `Now: ${n(e.end.balance)} (${n(e.start.balance)} ${e.total >= 0n ? '+' : '−'} ${n(e.total < 0n ? -e.total : e.total)}${e.addsUp ? ', it adds up' : ' — DOES NOT ADD UP, tell support'}).`,
        ...e.findings.map((f) => `• ${finding(f, n)}`),
        ...(e.gap ? [gap(e.gap, n, at)] : []),
        ...(e.attribution
          ? [
              'Where the usage went:',
              ...e.attribution.bySource.map((s) => `  ${(s.label ?? s.id ?? 'no source').padEnd(28)} ${String(s.count).padStart(4)}×  ${signed(s.amount).padStart(8)}`),
            ]
          : []),
        zoneNote(view.timeZone),
      ].join('\n');
    }
    case 'usage': {
      const spark = sparkline(view.daily.days.map((d) => d.used));
      return [
        `${view.account}: last ${view.daily.days.length} days ${spark}`,
        `  total ${n(view.daily.total)} credits, ${view.daily.averagePerDay} a day on average (${view.daily.timeZone})`,
        ...view.monthly.months.map((m) => `  ${m.month}${m.current ? ' (current)' : '          '} ${n(m.used).padStart(8)} credits  ${counted(m.transactions, 'transaction')}`),
      ].join('\n');
    }
    case 'posted': {
      const entry = view.result.entries[0]!;
      return `${view.what} posted${view.result.replayed ? ' (already, earlier)' : ''}: ${signed(entry.amount)} — balance after ${n(entry.balanceAfter)}${entry.note ? `, reason “${entry.note}”` : ''}. Entry ${entry.id}`;
    }
    case 'quote':
      return quoteText(view.account, view.quote, n);
    case 'scheduled':
      return scheduledText(view, at, n);
    case 'linked':
      return view.rewarded > 0n
        ? `Linked to ${view.userExternalId}. Discord reward: ${signed(view.rewarded)} — balance ${n(view.balance ?? 0n)}.`
        : `Linked to ${view.userExternalId}.`;
    case 'lookup':
      return view.accounts.length === 0
        ? `No account matches “${view.search}”.`
        : view.accounts.map((a) => `${a.name ?? a.externalId} (${a.ownerKind.toLowerCase()}) ${n(a.balance)} credits — account ${a.accountId}`).join('\n');
    case 'error':
      return view.text;
  }
}

function scheduledText(view: Extract<View, { kind: 'scheduled' }>, at: (date: Date) => string, n: (v: bigint) => string): string {
  const credits = (s: ScheduledWriteView) => `${n(s.amount)} ${s.bucket.toLowerCase()} credits`;
  const due = (s: ScheduledWriteView) => `${at(s.effectiveAt)} (${view.timeZone})${s.expiresAt ? `, expiring ${at(s.expiresAt)}` : ''}`;
  const first = view.scheduled[0]!;
  if (view.change === 'cancelled') return `Cancelled: ${credits(first)} for ${view.account} that were due on ${due(first)}. They will not land.`;
  if (view.change) {
    return `Scheduled${view.change === 'replayed' ? ' (already, earlier)' : ''}: ${credits(first)} for ${view.account} on ${due(first)}. ` +
      `They land then; until then /unschedule account:${view.accountId} schedule:${first.id} reason:"…" cancels it.`;
  }
  if (view.scheduled.length === 0) return `${view.account}: nothing scheduled.`;
  return [
    `${view.account}: ${view.scheduled.length} scheduled, soonest first`,
    ...view.scheduled.map((s) => `  ${at(s.effectiveAt).padEnd(20)} +${credits(s).padEnd(24)} by ${s.scheduledBy.id ?? s.scheduledBy.kind.toLowerCase()}${s.reason ? `  “${s.reason}”` : ''}  schedule ${s.id}`),
    zoneNote(view.timeZone),
  ].join('\n');
}

function quoteText(account: string, q: UsageQuote, n: (v: bigint) => string): string {
  const c = q.cost;
  const price = c.deposit > 0n
    ? `${n(c.amount)} credits (${n(c.amount - c.deposit)} + a deposit of ${n(c.deposit)} for the clips, each counted as 4 to 12 seconds; unused deposit comes back after delivery)`
    : `${n(c.charged)} credits${c.discountPercent ? ` (${c.discountPercent}% off ${n(c.amount)})` : ''}`;
  const lines = [`${account}: ${c.description} would cost ${price}. Nothing was spent.`];
  if (q.refusal) {
    lines.push(q.refusal.code === 'INSUFFICIENT_CREDITS'
      ? `Not enough credits now: it needs ${n(BigInt(q.refusal.details.required as string))}, you have ${n(BigInt(q.refusal.details.available as string))}.`
      : q.refusal.message);
    return lines.join('\n');
  }
  if (q.autoReload) lines.push(`Auto-reload would first buy ${n(q.autoReload.credits)} credits.`);
  const drawn = q.buckets.filter((b) => b.amount < 0n).map((b) => `${n(-b.amount)} ${creditKindName(b.kind).toLowerCase()}`);
  lines.push(`You have ${n(q.balanceBefore)}; after it, ${n(q.balanceAfter)}${drawn.length ? ` (from ${drawn.join(', ')})` : ''}.`);
  return lines.join('\n');
}

function finding(f: WhyFinding, n: (v: bigint) => string): string {
  switch (f.kind) {
    case 'IN_FLIGHT_DEPOSITS':
      return `${counted(f.count, 'submission')} still in flight: ${n(f.amount)} credits were deducted at submit and reconcile after delivery.`;
    case 'PLAN_RESET':
      return `Your renewal reset ${n(-f.amount)} unused plan credits (plan credits do not carry over).`;
    case 'PURCHASED_UNTOUCHED':
      return `Your ${n(f.remaining)} purchased credits were not touched by the reset: they roll over.`;
    case 'AUTO_RELOAD':
      return `Auto reload fired ${f.count === 1 ? 'once' : `${f.count} times`}, adding ${n(f.amount)} credits.`;
    case 'AUTO_RELOAD_UNSETTLED':
      return `${counted(f.count, 'auto reload charge')} for ${n(f.amount)} credits ${f.count === 1 ? 'awaits' : 'await'} the payment provider's answer; the credits are added once it confirms.`;
    case 'ADMIN_ADJUSTMENT':
      return `Our team adjusted your balance: ${f.notes.map((x) => `${x.amount > 0n ? '+' : ''}${n(x.amount)} “${x.note ?? ''}”`).join('; ')}.`;
    case 'REROLL_BATCH':
      return `${counted(f.count, 'image re-roll')} cost ${n(-f.amount)} credits.`;
    case 'OUTSTANDING':
      return `You owe ${n(f.amount)} credits; your next top-up pays them first.`;
  }
}

function gap(g: NonNullable<import('../../core/reports/why.js').WhyExplanation['gap']>, n: (v: bigint) => string, at: (d: Date) => string): string {
  switch (g.kind) {
    case 'MATCHES':
      return `Your balance is the ${n(g.expected)} you expected.`;
    case 'WAS_EXPECTED_AFTER':
      return `Your balance was ${n(g.expected)} on ${at(g.entry.at)}; since then: ${g.since.map((s) => `${s.label} ${n(s.amount)}`).join(', ')} (${n(g.change)} in all).`;
    case 'ONE_ENTRY':
      return `One entry explains the ${n(g.difference)}: ${g.entry.description} on ${at(g.entry.at)}.`;
    case 'LARGEST_MOVEMENTS':
      return `The biggest movements that way: ${g.entries.map((e) => `${e.description} ${n(e.amount)}`).join(', ')}.`;
  }
}

/** A text bar chart for where images are off. */
export function sparkline(values: bigint[]): string {
  const bars = '▁▂▃▄▅▆▇█';
  const max = values.reduce((m, v) => (v > m ? v : m), 0n);
  return values.map((v) => (max === 0n || v <= 0n ? ' ' : bars[Number((v * 7n) / max)])).join('');
}
