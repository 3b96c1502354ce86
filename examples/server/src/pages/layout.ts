/**
 * What the example server's pages share: one stylesheet (system fonts, form controls in the page's
 * font, a visible focus ring, contrast of at least 4.5:1, one column at 390 px), one layout (header,
 * main, footer with the terms, privacy and cancellation links of `/legal`), and the browser-side
 * session every page signs in with ({@link SESSION_SCRIPT}).
 */

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Where the footer's links lead: one page with a section for each (`/legal#terms`, …). */
export const LEGAL_PAGE_PATH = '/legal';

/** The stylesheet of every page; a page adds its own rules after it. */
export const SHARED_STYLE = `
:root { color-scheme: dark; --bg: #0b1020; --surface: #151c36; --surface-2: #1c2545; --border: #3a4a80; --text: #eef1ff; --muted: #bcc5e6;
  --accent: #6fdcff; --accent-text: #04131c; --danger: #ffa3b5; --danger-strong: #ff8aa1; --ok: #8ff0c0; --warn: #ffd166; --focus: #ffd166; }
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; background: var(--bg); color: var(--text);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; -webkit-text-size-adjust: 100%; }
button, input, select, textarea { font: inherit; color: inherit; }
a { color: var(--accent); text-underline-offset: .15em; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
[hidden] { display: none !important; }
.wrap { width: 100%; max-width: 1080px; margin: 0 auto; padding: 0 1rem; }
.site-header { border-bottom: 1px solid var(--border); }
.site-header .wrap { display: flex; align-items: center; justify-content: space-between; gap: .5rem 1rem; flex-wrap: wrap; min-height: 3.5rem; padding-block: .5rem; }
.brand { font-weight: 700; font-size: 1.1rem; color: var(--text); text-decoration: none; }
.session { display: flex; align-items: center; gap: .75rem; color: var(--muted); font-size: .95rem; }
main.wrap { flex: 1; padding-block: 2rem 3rem; }
h1 { font-size: clamp(1.6rem, 5vw, 2.25rem); line-height: 1.2; margin: 0 0 .5rem; }
h2 { font-size: 1.2rem; line-height: 1.3; margin: 0 0 .75rem; }
h3 { font-size: 1rem; margin: 0 0 .5rem; }
p { margin: 0 0 .75rem; }
.lede { color: var(--muted); margin-bottom: 1.5rem; max-width: 62ch; }
.muted { color: var(--muted); }
.card { background: var(--surface); border: 1px solid var(--border); border-radius: 12px; padding: 1.25rem; min-width: 0; }
.stack { display: flex; flex-direction: column; gap: 1rem; }
.row { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end; }
.row > .field { flex: 1 1 12rem; }
.button, button { display: inline-flex; align-items: center; justify-content: center; gap: .4rem; min-height: 2.75rem; padding: .5rem 1.1rem;
  border-radius: 8px; border: 1px solid transparent; background: var(--accent); color: var(--accent-text); font-weight: 600;
  text-decoration: none; text-align: center; cursor: pointer; }
.button.secondary, button.secondary { background: transparent; color: var(--text); border-color: var(--border); }
.button.danger, button.danger { background: var(--danger-strong); color: #1d0710; }
button.link { min-height: 0; padding: 0; background: none; border: 0; color: var(--accent); text-decoration: underline; font-weight: 400; }
button:disabled, .button[aria-disabled="true"] { cursor: not-allowed; background: var(--surface-2); color: var(--muted); border-color: var(--border); }
.field { display: flex; flex-direction: column; gap: .35rem; min-width: 0; }
label, .label { font-weight: 600; }
input, select, textarea { width: 100%; min-height: 2.75rem; padding: .5rem .65rem; border-radius: 8px; border: 1px solid #7382b8; background: #0e1430; }
input[type="checkbox"], input[type="radio"] { width: 1.25rem; min-height: 1.25rem; margin: 0; accent-color: var(--accent); }
.hint { color: var(--muted); font-size: .9rem; font-weight: 400; }
.error { color: var(--danger); }
[aria-invalid="true"] { border-color: var(--danger); }
.ok { color: var(--ok); }
.notice { border: 1px solid var(--border); border-left: 4px solid var(--accent); background: var(--surface); padding: .75rem 1rem; border-radius: 8px; margin: 0 0 1.5rem; }
.notice.warning { border-left-color: var(--warn); }
.notice > :last-child { margin-bottom: 0; }
.table-scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .5rem; border-bottom: 1px solid var(--border); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; overflow-wrap: anywhere; }
.site-footer { border-top: 1px solid var(--border); color: var(--muted); font-size: .95rem; }
.site-footer .wrap { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .5rem 1.5rem; padding-block: 1.25rem; }
.site-footer p { margin: 0; }
.site-footer ul { list-style: none; display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; margin: 0; padding: 0; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
@media (max-width: 480px) { main.wrap { padding-block: 1.25rem 2rem; } .card { padding: 1rem; } }
`;

/**
 * The browser-side session of the pages (plain script, defines `swanSession`): a bearer token that
 * arrives in the URL fragment (`#token=…`, never sent to the server or its logs) is kept in
 * `sessionStorage` (this tab only) and removed from the address bar at once with
 * `history.replaceState`. `swanSession.role()` reads the token's `role` claim for display only: the
 * server checks every request. `swanSession.api(method, path, body?)` calls the API with the token
 * and always resolves to `{ status, body }`, `body` being the JSON envelope (a synthetic one
 * without a code when the server could not be reached). `swanSession.showIn(element)` renders
 * "Signed in as …" with a "Sign out" button. {@link renderPage} inlines it for a page with an inline
 * script; a page served with `scripts: 'self'` serves it as a file and loads it first.
 */
export const SESSION_SCRIPT = `var swanSession = (function () {
  'use strict';
  var KEY = 'swan.token';
  var ROLES = { admin: 'administrator', trainer: 'trainer', client: 'client', ai_service: 'AI service' };
  var fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has('token')) {
    if (fragment.get('token')) sessionStorage.setItem(KEY, fragment.get('token'));
    fragment.delete('token');
    var rest = fragment.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
  }
  function token() { return sessionStorage.getItem(KEY) || ''; }
  function claims() {
    var part = token().split('.')[1];
    if (!part) return null;
    try {
      var parsed = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
      return parsed && typeof parsed === 'object' ? parsed : null;
    } catch (e) { return null; }
  }
  function role() { var c = claims(); return c && typeof c.role === 'string' ? c.role : null; }
  function signIn(value) { sessionStorage.setItem(KEY, value); }
  function signOut() { sessionStorage.removeItem(KEY); }
  function api(method, path, body) {
    var headers = { authorization: 'Bearer ' + token() };
    var init = { method: method, headers: headers, cache: 'no-store' };
    if (body !== undefined) { headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (res) {
      return res.json().catch(function () {
        return { success: false, error: { code: null, message: 'The server answered ' + res.status + ' without a JSON body.' } };
      }).then(function (json) { return { status: res.status, body: json }; });
    }, function () {
      return { status: 0, body: { success: false, error: { code: null, message: 'Could not reach the server.' } } };
    });
  }
  function showIn(element) {
    element.replaceChildren();
    if (!token()) return;
    var who = document.createElement('span');
    who.id = 'signed-in-as';
    who.textContent = role() && ROLES[role()] ? 'Signed in as ' + ROLES[role()] : 'Signed in';
    var out = document.createElement('button');
    out.type = 'button';
    out.className = 'secondary';
    out.id = 'sign-out';
    out.textContent = 'Sign out';
    out.addEventListener('click', function () { signOut(); location.reload(); });
    element.append(who, out);
  }
  return { token: token, claims: claims, role: role, signIn: signIn, signOut: signOut, api: api, showIn: showIn };
})();
`;

/** What {@link renderPage} lays out. */
export interface PageParts {
  /** The response's CSP nonce (`htmlPageRoute` passes it to the render function). */
  nonce: string;
  /** The document title. */
  title: string;
  /** The content of `<main>`. */
  main: string;
  /** The page's own CSS rules, after {@link SHARED_STYLE}. */
  style?: string;
  /** More elements for `<head>`, e.g. a `<script type="module" src>` of a page served with `scripts: 'self'`. */
  head?: string;
  /** An inline script run at the end of `<body>` under the nonce ({@link SESSION_SCRIPT} comes first). */
  script?: string;
}

/**
 * A whole page: `<head>` with the shared stylesheet, a header with the brand and the session
 * (`#session`), `<main>`, and a footer linking the terms, privacy and cancellation sections of
 * `/legal`. With a `script`, the session script runs first, in `<head>`, so the token leaves the
 * address bar before anything else runs.
 *
 * @example
 * ```ts
 * htmlPageRoute('/hello', (nonce) => renderPage({ nonce, title: 'Hello', main: '<h1>Hello</h1>' }));
 * ```
 */
export function renderPage(parts: PageParts): string {
  const inline = (source: string) => `<script nonce="${parts.nonce}">\n${source}</script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(parts.title)}</title>
<style nonce="${parts.nonce}">${SHARED_STYLE}${parts.style ?? ''}</style>
${parts.script ? inline(SESSION_SCRIPT) : ''}${parts.head ?? ''}
</head>
<body>
<header class="site-header"><div class="wrap">
  <a class="brand" href="/pricing">SwanStudios</a>
  <div class="session" id="session"></div>
</div></header>
<main id="main" class="wrap">
${parts.main}
</main>
<footer class="site-footer"><div class="wrap">
  <p>SwanStudios personal training</p>
  <nav aria-label="Legal"><ul>
    <li><a href="${LEGAL_PAGE_PATH}#terms">Terms of service</a></li>
    <li><a href="${LEGAL_PAGE_PATH}#privacy">Privacy</a></li>
    <li><a href="${LEGAL_PAGE_PATH}#cancellation">Cancellation</a></li>
  </ul></nav>
</div></footer>
${parts.script ? inline(parts.script) : ''}
</body>
</html>`;
}
