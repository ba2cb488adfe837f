import { z } from 'zod';
import type { PortalSession } from '../../core/access/portalSession.js';
import type { CoreContext } from '../../core/context.js';
import { readFromReplica } from '../../core/db/readReplica.js';
import { parseInput } from '../../core/input.js';
import { parseLocalDateTime } from '../../core/localDateTime.js';
import { explainBalance, type WhyExplanation, type WhyFinding } from '../../core/reports/why.js';
import { html, type Html } from '../page/html.js';
import { userName } from './creditsPage.js';
import { type Formats, formatsFor } from './format.js';
import { layout } from './layout.js';

/** An empty form field is a field not given. */
const optionalField = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

export const whyQuery = z.strictObject({
  expected: optionalField(z.string().regex(/^\d{1,16}$/, 'must be a whole number of credits')),
  since: optionalField(z.iso.date({ message: 'must be a date' })),
});

/** "Why is my balance this?": the chat command's /why explanation, with the expected-balance form. */
export async function whyPage(ctx: CoreContext, session: PortalSession, rawQuery: unknown): Promise<string> {
  const query = parseInput(whyQuery, rawQuery);
  const f = formatsFor(session.locale, session.timeZone);
  const e = await readFromReplica(ctx, session.accountId, (reads) =>
    explainBalance(reads, {
      accountId: session.accountId,
      // The date the viewer typed, as the start of that day in their zone.
      ...(query.since && { since: parseLocalDateTime(query.since, session.timeZone, 'since') }),
      ...(query.expected && { expectedBalance: query.expected }),
    }),
  );
  const from =
    e.start.reason === 'LAST_GRANT'
      ? `your last ${e.start.grant!.label.toLowerCase()} on ${f.at(e.start.at!)}`
      : e.start.reason === 'SINCE'
        ? f.at(e.start.at!)
        : 'the day the account was opened';
  const magnitude = e.total < 0n ? -e.total : e.total;
  return layout(
    `Why is my balance this? · ${session.accountName}`,
    html`<section class="card"><h2>Why is my balance this?</h2>
<form class="inline" method="get" action="/portal/why">
  <label>The balance I expected <input name="expected" inputmode="numeric" pattern="[0-9]*" size="10" value="${query.expected}"></label>
  <label>Explain from <input name="since" type="date" value="${query.since}"></label>
  <button>Explain</button>
</form></section>
${e.gap ? html`<section class="card warn" role="status">${gapText(e.gap, f)}</section>` : ''}
<section class="card">
<p>From ${from} your balance was <strong>${f.number(e.start.balance)}</strong>.</p>
<table><thead><tr><th>What changed</th><th class="num">Times</th><th class="num">Credits</th></tr></thead><tbody>
${e.groups.map((g) => html`<tr><td>${g.label}</td><td class="num">${f.number(g.count)}×</td><td class="num">${f.signed(g.amount)}</td></tr>`)}
<tr><td><strong>Total</strong></td><td></td><td class="num"><strong>${f.signed(e.total)}</strong></td></tr>
</tbody></table>
<p data-testid="now">Now: <strong>${f.number(e.end.balance)}</strong> (${f.number(e.start.balance)} ${e.total >= 0n ? '+' : '−'} ${f.number(magnitude)}${e.addsUp ? ', it adds up' : ' — this does not add up: tell support'}).</p>
${e.findings.length > 0 ? html`<ul class="findings">${e.findings.map((finding) => html`<li>${findingText(finding, f)}</li>`)}</ul>` : ''}
</section>
${e.attribution ? attribution(e.attribution, f) : ''}
<p class="muted">${f.zoneLabel}.</p>`,
    session,
    'why',
  );
}

function findingText(finding: WhyFinding, f: Formats): string {
  switch (finding.kind) {
    case 'IN_FLIGHT_DEPOSITS':
      return `${f.number(finding.count)} submission(s) still in flight: ${f.number(finding.amount)} credits were deducted at submit and reconcile after delivery.`;
    case 'PLAN_RESET':
      return `Your renewal reset ${f.number(-finding.amount)} unused plan credits (plan credits do not carry over).`;
    case 'PURCHASED_UNTOUCHED':
      return `Your ${f.number(finding.remaining)} purchased credits were not touched by the reset: they roll over.`;
    case 'AUTO_RELOAD':
      return `Auto reload fired ${f.number(finding.count)} time(s), adding ${f.number(finding.amount)} credits.`;
    case 'AUTO_RELOAD_UNSETTLED':
      return `${f.number(finding.count)} auto reload charge(s) for ${f.number(finding.amount)} credits await the payment provider's answer; the credits are added once it confirms.`;
    case 'ADMIN_ADJUSTMENT':
      return `Our team adjusted your balance: ${finding.notes.map((x) => `${f.signed(x.amount)} “${x.note ?? ''}”`).join('; ')}.`;
    case 'REROLL_BATCH':
      return `${f.number(finding.count)} image re-rolls cost ${f.number(-finding.amount)} credits.`;
    case 'OUTSTANDING':
      return `You owe ${f.number(finding.amount)} credits; your next top-up pays them first.`;
  }
}

function gapText(gap: NonNullable<WhyExplanation['gap']>, f: Formats): string {
  switch (gap.kind) {
    case 'MATCHES':
      return `Your balance is the ${f.number(gap.expected)} you expected.`;
    case 'WAS_EXPECTED_AFTER':
      return `Your balance was ${f.number(gap.expected)} on ${f.at(gap.entry.at)}; since then: ${gap.since.map((s) => `${s.label} ${f.signed(s.amount)}`).join(', ')} (${f.signed(gap.change)} in all).`;
    case 'ONE_ENTRY':
      return `One entry explains the ${f.number(gap.difference)}: ${gap.entry.description} on ${f.at(gap.entry.at)}.`;
    case 'LARGEST_MOVEMENTS':
      return `The biggest movements that way: ${gap.entries.map((x) => `${x.description} ${f.signed(x.amount)}`).join(', ')}.`;
  }
}

/** On a pooled balance, which events and which members the usage went to. */
function attribution(a: NonNullable<WhyExplanation['attribution']>, f: Formats): Html {
  return html`<section class="card"><h2>Where the usage went</h2>
<table><thead><tr><th>Event</th><th class="num">Times</th><th class="num">Credits</th></tr></thead><tbody>
${a.bySource.map((s) => html`<tr><td>${s.label ?? s.id ?? 'No event'}</td><td class="num">${f.number(s.count)}×</td><td class="num">${f.signed(s.amount)}</td></tr>`)}
</tbody></table>
<table><thead><tr><th>User</th><th class="num">Times</th><th class="num">Credits</th></tr></thead><tbody>
${a.byActor.map((u) => html`<tr><td>${userName(u)}</td><td class="num">${f.number(u.count)}×</td><td class="num">${f.signed(u.amount)}</td></tr>`)}
</tbody></table></section>`;
}
