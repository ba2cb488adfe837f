import type { PortalSession } from '../../core/access/portalSession.js';
import { cspHash, html, type Html } from '../page/html.js';

/**
 * The credits page's frame and its Content-Security-Policy: no script but the one below, no inline style but
 * this sheet (allowed by hash), framed only by the host page the session names.
 */
const stylesheet: Html = {
  html: `
  :root { color-scheme: light; --ink: #1d2330; --muted: #5f6779; --line: #e3e6ec; --plus: #137333; --minus: #b3261e; --accent: #3656c9; }
  * { box-sizing: border-box; }
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: var(--ink); background: #f6f7f9; }
  header { background: #fff; border-bottom: 1px solid var(--line); padding: 12px max(16px, calc((100% - 1088px) / 2)); }
  header h1 { font-size: 18px; margin: 0; } header nav { display: flex; gap: 16px; flex-wrap: wrap; margin-top: 4px; }
  header nav a { color: var(--accent); text-decoration: none; } header nav a[aria-current] { font-weight: 700; color: var(--ink); }
  main { padding: 16px; max-width: 1120px; margin: 0 auto; }
  h2 { font-size: 16px; margin: 0 0 10px; }
  a { color: var(--accent); }
  .muted { color: var(--muted); font-size: 13px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 12px; margin-bottom: 16px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin-bottom: 16px; }
  .cards .card { margin: 0; }
  .label { color: var(--muted); font-size: 13px; margin: 0; }
  .big { font-size: 30px; font-weight: 650; margin: 2px 0; font-variant-numeric: tabular-nums; }
  .used { color: var(--minus); }
  meter { width: 100%; height: 12px; }
  .button { display: inline-block; background: var(--accent); color: #fff; padding: 7px 14px; border-radius: 6px; text-decoration: none; font-weight: 600; }
  details summary { cursor: pointer; color: var(--accent); }
  details[open] .when-closed, details:not([open]) .when-open { display: none; }
  .warn { background: #fff7e6; border-color: #f0cf8a; } .error { background: #fbeaea; border-color: #e5a5a5; }
  .badge { background: #fde7c8; color: #7a4a00; border-radius: 4px; padding: 0 5px; font-size: 12px; font-weight: 600; white-space: nowrap; }
  .current { background: #dfe8ff; color: #23408f; }
  .plus { color: var(--plus); } .minus { color: var(--minus); }
  s { color: var(--muted); }
  .segments { display: flex; flex-wrap: wrap; gap: 0; margin: 0 0 12px; padding: 0; list-style: none; }
  .segments a { display: block; padding: 5px 14px; border: 1px solid var(--line); background: #fff; color: var(--ink); text-decoration: none; margin-right: -1px; }
  .segments li:first-child a { border-radius: 6px 0 0 6px; } .segments li:last-child a { border-radius: 0 6px 6px 0; }
  .segments a[aria-current] { background: var(--ink); color: #fff; border-color: var(--ink); }
  .tabs { display: flex; gap: 18px; border-bottom: 1px solid var(--line); margin: 0 0 12px; padding: 0; list-style: none; flex-wrap: wrap; }
  .tabs a { display: block; padding: 6px 0; color: var(--muted); text-decoration: none; }
  .tabs a[aria-current] { color: var(--ink); font-weight: 650; border-bottom: 2px solid var(--ink); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 7px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { font-size: 13px; color: var(--muted); font-weight: 600; }
  .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .pager { display: flex; gap: 14px; align-items: center; flex-wrap: wrap; margin-top: 10px; }
  .months { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; margin-bottom: 16px; }
  .months .card { margin: 0; }
  .chart { display: block; width: 100%; height: 140px; }
  .chart rect { fill: #4a6fd6; } .axis { display: flex; justify-content: space-between; }
  form.inline { display: flex; gap: 8px; flex-wrap: wrap; align-items: end; }
  form.inline label { display: flex; flex-direction: column; font-size: 13px; color: var(--muted); }
  input, button { font: inherit; padding: 5px 8px; } button { cursor: pointer; }
  ul.findings { padding-left: 20px; } ul.findings li { margin: 4px 0; }
  @media (max-width: 640px) {
    main { padding: 12px; }
    .big { font-size: 26px; }
    .card { padding: 12px; }
    .tabs { gap: 10px; font-size: 13px; flex-wrap: nowrap; overflow-x: auto; white-space: nowrap; }
    table.rows thead { display: none; }
    table.rows tr { display: block; border-bottom: 1px solid var(--line); padding: 6px 0; }
    table.rows td { display: flex; justify-content: space-between; gap: 12px; border: 0; padding: 2px 0; text-align: right; }
    table.rows td::before { content: attr(data-label); color: var(--muted); font-size: 13px; text-align: left; }
    table.rows td.num { white-space: normal; }
  }
`,
};

const styleHash = cspHash(stylesheet.html);

/**
 * The one script: until the viewer's browser has told its time zone, it posts it once (the page
 * then shows times in it). Without script, times stay in the zone the page names.
 */
const reportBrowserZone: Html = {
  html: `(() => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || document.documentElement.dataset.zone === zone) return;
  const form = document.createElement('form');
  form.method = 'post';
  form.action = '/portal/zone';
  for (const [name, value] of [['timeZone', zone], ['to', location.pathname + location.search]]) {
    const field = document.createElement('input');
    field.type = 'hidden';
    field.name = name;
    field.value = value;
    form.append(field);
  }
  document.body.append(form);
  form.submit();
})();`,
};
const scriptHash = cspHash(reportBrowserZone.html);

/** The policy a portal page is served under. */
export function contentSecurityPolicy(embedOrigin: string | null): string {
  return [
    "default-src 'none'",
    `script-src ${scriptHash}`,
    `style-src ${styleHash}`,
    "style-src-attr 'none'",
    "img-src 'self'",
    "form-action 'self'",
    `frame-ancestors ${embedOrigin ?? "'none'"}`,
    "base-uri 'none'",
  ].join('; ');
}

export type PortalTab = 'credits' | 'why';

export function layout(title: string, body: Html, session?: PortalSession, tab?: PortalTab): string {
  return html`<!doctype html>
<html lang="${session?.locale ?? 'en'}"${session ? html` data-zone="${session.timeZone}"` : ''}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${stylesheet}</style>
</head>
<body>
<header>
${session
  ? html`<h1>${session.accountName}</h1>
<nav><a href="/portal"${tab === 'credits' ? html` aria-current="page"` : ''}>Credits</a><a href="/portal/why"${tab === 'why' ? html` aria-current="page"` : ''}>Why is my balance this?</a></nav>`
  : html`<h1>Credits</h1>`}
</header>
<main>
${body}
</main>
${session?.timeZoneSource === 'account' ? html`<script>${reportBrowserZone}</script>` : ''}
</body>
</html>`.html;
}
