import {
  type APIEmbed,
  type APIEmbedField,
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  type InteractionEditReplyOptions,
} from 'discord.js';
import type { ActivityRow } from '../../core/reports/activity.js';
import { usageChartPng } from '../charts/usageChartPng.js';
import { activityName, activitySource, clipText, counted, creditKindName, credits, creditsNotes, discountText, signedCredits, zonedTime, zoneNote } from '../chatFormat.js';
import { renderText } from '../text/renderText.js';
import type { View } from '../views.js';
import { activityButtonId } from './activityButtons.js';

export type DiscordReply = Pick<InteractionEditReplyOptions, 'content' | 'embeds' | 'components' | 'files'>;

const brand = 0x4a6fd6;
const chartName = 'usage.png';
/** Discord's limits: an embed's description, a field's value. */
const maxDescription = 4096;
const maxFieldValue = 1024;

/**
 * Times are text in the view's zone, named in the footer: Discord does not tell a bot the viewer's zone and its
 * timestamps cannot go in the /why table. `account` rides on the buttons to the next page.
 */
export function renderDiscord(view: View, account?: string): DiscordReply {
  switch (view.kind) {
    case 'credits':
      return { embeds: [creditsEmbed(view)] };
    case 'activity':
      return { embeds: [activityEmbed(view)], components: activityButtons(view, account) };
    case 'usage':
      return {
        content: `${view.account}: ${credits(view.daily.total)} credits used in the last ${view.daily.days.length} days, ${view.daily.averagePerDay} a day on average (${view.daily.timeZone}).`,
        embeds: [
          {
            color: brand,
            image: { url: `attachment://${chartName}` },
            fields: view.monthly.months.map((m) => ({
              name: `${m.month}${m.current ? ' (so far)' : ''}`,
              value: `${credits(m.used)} credits · ${counted(m.transactions, 'transaction')}`,
              inline: true,
            })),
          },
        ],
        files: [new AttachmentBuilder(usageChartPng(view.daily), { name: chartName })],
      };
    case 'why':
      // The explanation is a table: a code block keeps its columns.
      return { embeds: [{ color: brand, title: `${view.account}: why`, description: codeBlock(renderText(view), maxDescription) }] };
    case 'scheduled':
      // A list is a table too, and a long one outgrows a message's 2,000 characters: clipped to an embed's.
      return view.change || view.scheduled.length === 0
        ? { content: renderText(view) }
        : { embeds: [{ color: brand, title: `${view.account}: scheduled`, description: codeBlock(renderText(view), maxDescription) }] };
    default:
      return { content: renderText(view) };
  }
}

function creditsEmbed(view: Extract<View, { kind: 'credits' }>): APIEmbed {
  const b = view.breakdown;
  const at = (date: Date) => zonedTime(date, view.timeZone);
  return {
    color: brand,
    title: `${view.account}: ${credits(b.available)} credits available`,
    fields: b.kinds.map((k) => ({
      name: creditKindName(k.kind),
      value: `${credits(k.remaining)} · ${k.nextExpiry ? `expires ${at(k.nextExpiry)}` : 'never expires'}`,
      inline: true,
    })),
    description: creditsNotes(b, at).join('\n'),
    footer: { text: zoneNote(view.timeZone) },
  };
}

function activityEmbed(view: Extract<View, { kind: 'activity' }>): APIEmbed {
  const p = view.page;
  return {
    color: brand,
    title: `${view.account} — activity (${view.filter})`,
    description: p.rows.length === 0 ? 'No activity yet.' : `Showing ${p.showing.from}–${p.showing.to} of ${p.showing.total}`,
    fields: p.rows.map((row) => activityField(row, view.timeZone)),
    footer: { text: zoneNote(view.timeZone) },
  };
}

/** One row in the activity table's columns: activity, signed credits and balance after; date, description, source with its link. */
function activityField(row: ActivityRow, timeZone: string): APIEmbedField {
  const when = row.count > 1 ? `${zonedTime(row.startedAt, timeZone)} – ${zonedTime(row.endedAt, timeZone)}` : zonedTime(row.startedAt, timeZone);
  const source = activitySource(row);
  return {
    name: `${activityName(row)} · ${signedCredits(row.amount)}${discountText(row)} → ${credits(row.balanceAfter)}`,
    value: clipText(
      [
        when,
        row.description,
        ...(source ? [source.url ? `[${source.text}](${source.url})` : source.text] : []),
        ...(row.note ? [`“${row.note}”`] : []),
      ].join(' · '),
      maxFieldValue,
    ),
  };
}

function activityButtons(view: Extract<View, { kind: 'activity' }>, account: string | undefined): ActionRowBuilder<ButtonBuilder>[] {
  const button = (label: string, page: string | null) => {
    const id = page && activityButtonId({ filter: view.filter, page, ...(account && { account }) });
    // A disabled button still needs an id of its own.
    return new ButtonBuilder().setLabel(label).setStyle(ButtonStyle.Secondary).setCustomId(id ?? `activity-none-${label}`).setDisabled(!id);
  };
  if (!view.page.previous && !view.page.next) return [];
  return [new ActionRowBuilder<ButtonBuilder>().addComponents(button('Previous', view.page.previous), button('Next', view.page.next))];
}

function codeBlock(text: string, limit: number): string {
  return `\`\`\`\n${clipText(text, limit - 8)}\n\`\`\``;
}
