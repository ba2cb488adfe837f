import type { types } from '@slack/bolt';
import type { ActivityRow } from '../../core/reports/activity.js';
import { activityName, activitySource, clipText, creditKindName, credits, creditsNotes, discountText, signedCredits, zonedTime, zoneNote } from '../chatFormat.js';
import { renderText } from '../text/renderText.js';
import type { View } from '../views.js';
import { activityActionIds, activityButtonValueText } from './activityButtons.js';

export interface SlackMessage {
  /** The notification and screen-reader text; blocks are what people see. */
  text: string;
  blocks: types.KnownBlock[];
}

/** Who asked and for which account: the paging buttons carry both to the next page. */
export interface SlackRenderContext {
  caller: string;
  account?: string | undefined;
}

/** Slack's limit for a section's text. */
const maxSectionText = 3000;

/**
 * A view as a Block Kit message, times in the view's zone (the viewer's Slack time zone when Slack
 * gave it). The reports get their own layout; the rest is the console's text, which reads the same here.
 */
export function renderSlack(view: View, context: SlackRenderContext): SlackMessage {
  const text = clipText(renderText(view), maxSectionText);
  switch (view.kind) {
    case 'credits':
      return { text, blocks: creditsBlocks(view) };
    case 'activity':
      return { text, blocks: activityBlocks(view, context) };
    case 'why':
    case 'usage':
    case 'scheduled':
      // Tables (and the usage sparkline, the schedules' list): a code block keeps their columns; a schedule's confirmation is a sentence.
      if (view.kind === 'scheduled' && (view.change || view.scheduled.length === 0)) return { text, blocks: [section(escape(text))] };
      return { text, blocks: [section(`\`\`\`${clipText(escape(text), maxSectionText - 6)}\`\`\``)] };
    default:
      return { text, blocks: [section(escape(text))] };
  }
}

function creditsBlocks(view: Extract<View, { kind: 'credits' }>): types.KnownBlock[] {
  const { breakdown: b, timeZone } = view;
  return [
    header(`${view.account}: ${credits(b.available)} credits available`),
    // A section holds at most ten fields.
    ...chunks(b.kinds, 10).map((kinds) => ({
      type: 'section' as const,
      fields: kinds.map((k) => ({
        type: 'mrkdwn' as const,
        text: `*${creditKindName(k.kind)}*\n${credits(k.remaining)} · ${k.nextExpiry ? `expires ${zonedTime(k.nextExpiry, timeZone)}` : 'never expires'}`,
      })),
    })),
    context([...creditsNotes(b, (date) => zonedTime(date, timeZone)), zoneNote(timeZone)].map(escape).join('\n')),
  ];
}

function activityBlocks(view: Extract<View, { kind: 'activity' }>, ctx: SlackRenderContext): types.KnownBlock[] {
  const p = view.page;
  const button = (label: string, actionId: string, page: string | null): types.Button[] =>
    page
      ? [
          {
            type: 'button',
            text: { type: 'plain_text', text: label },
            action_id: actionId,
            value: activityButtonValueText({ caller: ctx.caller, filter: view.filter, page, ...(ctx.account && { account: ctx.account }) }),
          },
        ]
      : [];
  const buttons = [...button('Previous', activityActionIds.previous, p.previous), ...button('Next', activityActionIds.next, p.next)];
  return [
    header(`${view.account} — activity (${view.filter})`),
    context(p.rows.length === 0 ? 'No activity yet.' : `Showing ${p.showing.from}–${p.showing.to} of ${p.showing.total}`),
    ...p.rows.map((row) => section(activityLine(row, view.timeZone))),
    context(zoneNote(view.timeZone)),
    ...(buttons.length > 0 ? [{ type: 'actions' as const, elements: buttons }] : []),
  ];
}

/** One row in the activity table's columns: activity, signed credits, balance after; date, description, source with its link. */
function activityLine(row: ActivityRow, timeZone: string): string {
  const when = row.count > 1 ? `${zonedTime(row.startedAt, timeZone)} – ${zonedTime(row.endedAt, timeZone)}` : zonedTime(row.startedAt, timeZone);
  const source = activitySource(row);
  const details = [
    when,
    escape(row.description),
    ...(source ? [source.url ? `<${source.url}|${escape(source.text)}>` : escape(source.text)] : []),
    ...(row.note ? [`“${escape(row.note)}”`] : []),
  ];
  return `*${escape(activityName(row))}*  ${signedCredits(row.amount)}${discountText(row)} → ${credits(row.balanceAfter)}\n${details.join(' · ')}`;
}

function header(text: string): types.HeaderBlock {
  return { type: 'header', text: { type: 'plain_text', text: clipText(text, 150) } };
}

function section(mrkdwn: string): types.SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: clipText(mrkdwn, maxSectionText) } };
}

function context(mrkdwn: string): types.ContextBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: clipText(mrkdwn, maxSectionText) }] };
}

/** Slack's mrkdwn treats &, < and > as markup. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function chunks<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}
