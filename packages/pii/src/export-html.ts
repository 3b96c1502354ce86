/*
 * The data-subject export as a printable HTML page: the same document object as the JSON export,
 * rendered section by section (a heading and a table each), every value escaped, with print CSS
 * and no script. Serve it with {@link EXPORT_HTML_HEADERS}.
 */

import { errors } from '@swan/core';

/** The formats of the data-subject export (`?format=` of the route, `--format` of `swan export`). */
export const EXPORT_FORMATS = ['json', 'html'] as const;

/** One of {@link EXPORT_FORMATS}. */
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * Checks a requested export format: absent means `json`; anything but `json` or `html` throws
 * 400 `VALIDATION_FAILED`.
 *
 * @example
 * ```ts
 * exportFormatOf(req.query.format); // 'json' | 'html'
 * ```
 */
export function exportFormatOf(value: unknown): ExportFormat {
  if (value === undefined) return 'json';
  if (typeof value === 'string' && (EXPORT_FORMATS as readonly string[]).includes(value)) return value as ExportFormat;
  throw errors.validation(`format must be one of ${EXPORT_FORMATS.join(', ')}`, [{ path: '/format' }]);
}

/** Media type of {@link renderExportHtml}'s page. */
export const EXPORT_HTML_CONTENT_TYPE = 'text/html; charset=utf-8';

/**
 * Response headers of the HTML export: a Content-Security-Policy that allows the page's inline
 * style and nothing else (no script, image, font, frame or request), never cached, not framed.
 */
export const EXPORT_HTML_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** Headings of the known sections; any other key is shown under its own name. */
const SECTION_TITLES: Record<string, string> = {
  pii: 'Personal data',
  training: 'Training data',
  consents: 'Consents',
  masterPrompts: 'Master prompts',
  subscriptions: 'Subscriptions',
  checkins: 'Check-ins',
  accessLog: 'Access log',
  restrictions: 'Restrictions of processing',
};

const CSS = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:#111;margin:2rem;max-width:75rem}
h1{font-size:1.6rem;margin:0 0 1rem}h2{font-size:1.25rem;margin:2rem 0 .5rem;border-bottom:1px solid #999}
h3{font-size:1rem;margin:1rem 0 .25rem}
table{border-collapse:collapse;margin:.25rem 0 1rem;width:100%}
th,td{border:1px solid #bbb;padding:.2rem .4rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#eee}td table{margin:0}
.empty{color:#555;font-style:italic}pre{white-space:pre-wrap;margin:0;font:12px/1.3 ui-monospace,monospace}
@media print{body{margin:0;font-size:10pt}h2{break-after:avoid}tr{break-inside:avoid}th{background:#eee;-webkit-print-color-adjust:exact;print-color-adjust:exact}}
`.trim();

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for an HTML element or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const empty = (what = 'none') => `<p class="empty">${what}</p>`;

/** A scalar as text: strings as they are, `null` as an empty cell, the rest as JSON. */
function scalar(value: unknown): string {
  if (value === null || value === undefined) return '';
  return escapeHtml(typeof value === 'string' ? value : JSON.stringify(value));
}

/** Any value: objects as key/value tables, lists of objects as tables with a column per key. */
function render(value: unknown, depth: number): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return empty();
    if (!value.every(isRecord)) return `<ul>${value.map((v) => `<li>${render(v, depth + 1)}</li>`).join('')}</ul>`;
    const columns = [...new Set(value.flatMap((row) => Object.keys(row)))];
    const head = columns.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join('');
    const rows = value.map((row) => `<tr>${columns.map((c) => `<td>${render(row[c], depth + 1)}</td>`).join('')}</tr>`).join('');
    return `<table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`;
  }
  if (isRecord(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return empty();
    // deep structures (a master prompt) read better as indented JSON than as tables in tables
    if (depth > 2) return `<pre>${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;
    return `<table><tbody>${entries.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${render(v, depth + 1)}</td></tr>`).join('')}</tbody></table>`;
  }
  return scalar(value);
}

/** One section: its heading, then its content (a part made of lists and objects, like `checkins`, gets a subheading per member). */
function section(key: string, value: unknown): string {
  const title = SECTION_TITLES[key] ?? key;
  const id = `section-${key.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  let body: string;
  if (value === null || value === undefined) body = empty('no data');
  else if (isRecord(value) && Object.values(value).some(Array.isArray) && Object.values(value).every((v) => v === null || typeof v === 'object')) {
    body = Object.entries(value).map(([k, v]) => `<h3>${escapeHtml(k)}</h3>${v === null ? empty('no data') : render(v, 1)}`).join('');
  } else body = render(value, 1);
  return `<section id="${escapeHtml(id)}" data-section="${escapeHtml(key)}"><h2>${escapeHtml(title)} <small>(${escapeHtml(key)})</small></h2>${body}</section>`;
}

/**
 * Renders a data-subject export document (what `exportClientData` returns) as a self-contained,
 * printable HTML page: a summary of the top-level facts (client id, alias, export time, …), then
 * one section per part (`pii`, `training`, `consents`, `masterPrompts`, `subscriptions`,
 * `checkins`, `accessLog`, `restrictions` and any other contributor's part). Every text is
 * escaped; the page has no script and loads nothing.
 *
 * @example
 * ```ts
 * const doc = await pii.exportClientData(clientId, actor, contributors);
 * res.set(EXPORT_HTML_HEADERS).type(EXPORT_HTML_CONTENT_TYPE).send(renderExportHtml(doc));
 * ```
 */
export function renderExportHtml(doc: Readonly<Record<string, unknown>>): string {
  const isPart = ([k, v]: [string, unknown]) => isRecord(v) || Array.isArray(v) || k in SECTION_TITLES;
  const facts = Object.entries(doc).filter((e) => !isPart(e));
  const parts = Object.entries(doc).filter(isPart);
  const summary = `<table><tbody>${facts.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${scalar(v)}</td></tr>`).join('')}</tbody></table>`;
  const subject = typeof doc.alias === 'string' ? doc.alias : typeof doc.clientId === 'string' ? doc.clientId : '';
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>Data-subject export ${escapeHtml(subject)}</title>`,
    `<style>${CSS}</style>`,
    '</head><body>',
    `<h1>Data-subject export</h1>`,
    summary,
    ...parts.map(([k, v]) => section(k, v)),
    '</body></html>',
    '',
  ].join('\n');
}
