import { createHash } from 'node:crypto';

/** Server-rendered HTML for the admin page: escaping, the layout, and the formats staff read. */

export type Html = { readonly html: string };

/**
 * Escapes every value unless it is already Html. A URL attribute's value that is not a same-origin path or an
 * http(s) URL (`javascript:`, `data:`…) drops the attribute, so an `<a>` stays text, never a link.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((value, i) => {
    const next = strings[i + 1]!;
    const attribute = urlAttributeOpening.exec(out);
    if (attribute && !isSafeUrl(value)) {
      // Cut from the attribute's name to its closing quote; if the literal lacks it, stay inside it.
      const closing = next.indexOf('"');
      out = closing >= 0 ? out.slice(0, attribute.index) + next.slice(closing + 1) : out + 'about:invalid' + next;
    } else {
      out += render(value) + next;
    }
  });
  return { html: out };
}

const urlAttributeOpening = /\s(?:href|src|action|formaction)="$/i;

function isSafeUrl(value: unknown): boolean {
  if (typeof value === 'object' && value !== null && 'html' in value) return true; // trusted, as everywhere
  const text = String(value ?? '');
  if (/^(?:\/(?![/\\])|[?#])/.test(text)) return true; // a path on this site, a query or a fragment
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

function render(value: unknown): string {
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (typeof value === 'object' && 'html' in (value as object)) return (value as Html).html;
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const stylesheet: Html = {
  html: `
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
  header { background: #1d2330; color: #fff; padding: 10px 24px; display: flex; gap: 24px; align-items: center; }
  header a { color: #cfd6e6; text-decoration: none; } header form { margin-left: auto; }
  main { padding: 20px 24px; max-width: 1100px; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e3e6ec; vertical-align: top; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .plus { color: #137333; } .minus { color: #b3261e; } .muted { color: #6b7385; font-size: 12px; }
  .card { background: #fff; border: 1px solid #e3e6ec; border-radius: 6px; padding: 14px 18px; margin-bottom: 16px; }
  .big { font-size: 28px; font-weight: 600; } .notice { background: #e7f4ea; border-color: #9fd3ab; }
  .error { background: #fbeaea; border-color: #e5a5a5; } .segments a { margin-right: 12px; } .segments a.on { font-weight: 700; }
  s { color: #6b7385; } .badge { background: #fde7c8; border-radius: 4px; padding: 0 4px; font-size: 12px; }
  input, select, button { font: inherit; padding: 4px 8px; max-width: 100%; box-sizing: border-box; }
  label { display: block; margin: 6px 0; }
  .stats { display: flex; flex-wrap: wrap; gap: 12px 40px; margin-bottom: 10px; } .stats .big { line-height: 1.1; }
  header form.zone { margin-left: 0; } header select { max-width: 190px; } .card { overflow-x: auto; }
  @media (max-width: 640px) { header { flex-wrap: wrap; gap: 6px 16px; padding: 8px 12px; } header form { margin-left: 0; }
    main { padding: 12px; } .card { padding: 10px 12px; } th, td { padding: 4px 6px; } }
`,
};

/**
 * What the Content-Security-Policy allows as style: this stylesheet, and the few style
 * attributes the views use, by hash. Nothing else inline runs.
 */
export const styleHashes = {
  elements: [cspHash(stylesheet.html)],
  attributes: ['display:inline'].map(cspHash),
};

/** The CSP source that allows exactly this inline style text. */
export function cspHash(source: string): string {
  return `'sha256-${createHash('sha256').update(source).digest('base64')}'`;
}

/** Who is reading a page: the staff member, their form token, and the zone every time is shown in. */
export interface Viewer {
  staffId: string;
  csrfToken: string;
  timeZone: string;
  /** This page's path and query: where choosing a zone comes back to (no Referer is sent). */
  here: string;
}

export function layout(title: string, body: Html, viewer?: Viewer): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Creditkeeper admin</title>
<link rel="icon" href="/admin/favicon.svg" type="image/svg+xml">
<style>${stylesheet}</style>
</head>
<body>
<header><strong>Creditkeeper</strong>
${viewer ? html`<a href="/admin">Accounts</a><a href="/admin/audit">Audit log</a>
<form class="zone" method="post" action="/admin/time-zone"><input type="hidden" name="_csrf" value="${viewer.csrfToken}"><input type="hidden" name="back" value="${viewer.here}"><label style="display:inline">Times in <select name="zone" aria-label="Time zone">${zones.map((z) => html`<option${z === viewer.timeZone ? html` selected` : ''}>${z}</option>`)}</select></label> <button>Set</button></form>
<form method="post" action="/admin/logout"><input type="hidden" name="_csrf" value="${viewer.csrfToken}"><span class="muted">${viewer.staffId}</span> <button>Sign out</button></form>` : ''}
</header>
<main>
${body}
</main>
</body>
</html>`.html;
}

const zones = ['UTC', ...Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC')];

/** The page's icon: the ledger's "C" on its brand colour, served at /admin/favicon.svg. */
export const favicon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1d2330"/><path d="M21.5 11.2a7 7 0 1 0 0 9.6" fill="none" stroke="#7fb4ff" stroke-width="3.6" stroke-linecap="round"/></svg>`;

export function credits(amount: bigint): Html {
  return html`<span class="${amount > 0n ? 'plus' : amount < 0n ? 'minus' : ''}">${amount > 0n ? '+' : ''}${amount.toLocaleString('en')}</span>`;
}

/** A moment in the viewer's zone, with the zone's short name: `2026-12-02 14:07 CET`. */
export function when(at: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
}
