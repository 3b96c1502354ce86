import { htmlPageRoute } from './html.js';
import { renderPage } from './layout.js';
import type { DocumentedRoute } from '@swan/core';

/** Where the admin page is served. */
export const ADMIN_PAGE_PATH = '/admin';

/**
 * `GET /admin`: the operator's page. It holds no data itself (a public route): everything it shows
 * comes from the routes of API.md, called from the browser with the signed-in person's bearer token.
 *
 * An administrator sees:
 * - the clients (`GET /api/admin/clients`): alias, status and since when, a page at a time; "Manage"
 *   opens a client's actions: assign a trainer (`PUT /api/trainers/:trainerId/clients/:clientId`),
 *   rectify training data (`PATCH /api/clients/:clientId/training`, only the changed fields),
 *   restrict or lift the restriction with a reason (`POST /api/clients/:clientId/restrict|unrestrict`),
 *   and erase (`POST /api/clients/:clientId/erase`) once the client's alias is typed to confirm;
 * - "create client" (`POST /api/clients`; the form is cleared once the client exists);
 * - outbox stats and dead-lettered events with "Redrive" (`/api/admin/outbox/…`);
 * - rate-limit violators (`GET /api/admin/rate-limit/violators`) and the audit chain check
 *   (`GET /api/audit/verify`).
 *
 * A trainer sees only the training-data form, for a client id their administrator gave them (the
 * client list is an administrator's); any other role is told the page is not for them. The role is
 * read from the token for display only: the server checks every call.
 *
 * A client is shown by its Galaxy-Swan alias, never a name or email. Every failure shows the error
 * envelope's `code` and `message`. Everything is rendered with `textContent` (no `innerHTML`), under
 * a nonce-based Content-Security-Policy with no inline handlers.
 *
 * Signing in: open `/admin#token=…` (the fragment never reaches the server or its logs; the token
 * is kept in this tab's `sessionStorage` and removed from the address bar at once), or paste the
 * token into the sign-in form. A real deployment would use its own session instead.
 *
 * @example
 * ```ts
 * export const adminModule: ServerModule = { name: 'admin', setup: () => ({ routes: [adminPageRoute()] }) };
 * // then open http://localhost:3000/admin#token=<admin JWT>
 * ```
 */
export function adminPageRoute(): DocumentedRoute {
  return htmlPageRoute(ADMIN_PAGE_PATH, (nonce) => renderPage({ nonce, title: 'Admin — SwanStudios', style: STYLE, main: MAIN, script: SCRIPT }), {
    summary: 'Admin page (its data comes from the admin routes, called with the signed-in person\'s token)',
  });
}

const STYLE = `
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 22rem), 1fr)); gap: 1rem; }
.grid > .wide { grid-column: 1 / -1; }
.toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; margin: 0 0 1rem; }
.toolbar p { margin: 0; }
.tiles { display: flex; gap: .75rem; flex-wrap: wrap; margin-bottom: .75rem; }
.tile { background: var(--surface-2); border-radius: 10px; padding: .5rem .9rem; min-width: 5.5rem; }
.tile strong { display: block; font-size: 1.5rem; }
.alias { font-weight: 700; }
.status { display: inline-block; padding: 0 .5rem; border-radius: 999px; border: 1px solid var(--border); font-size: .9rem; }
.status.restricted { border-color: var(--warn); color: var(--warn); }
.status.erased, .status.deleted { color: var(--muted); }
.pager { display: flex; gap: .5rem; align-items: center; margin-top: .75rem; flex-wrap: wrap; }
.actions { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 18rem), 1fr)); gap: 1rem; margin-top: 1rem; }
.actions form { background: var(--surface-2); border-radius: 10px; padding: 1rem; display: flex; flex-direction: column; gap: .75rem; }
.actions h3 { margin: 0; }
.error p, .error ul { margin: .25rem 0 0; }
.error ul { padding-left: 1.2rem; }
#signin form { max-width: 34rem; }
#pick-form { margin-bottom: 1rem; }
#clients-list td, #clients-list th { vertical-align: middle; }
#clients-list .status, #clients-list button { white-space: nowrap; }
button.manage { min-height: 2.25rem; padding: .25rem .8rem; }
@media (max-width: 560px) { #clients-list th:nth-child(3), #clients-list td:nth-child(3) { display: none; } }
`;

const MAIN = `<h1>SwanStudios admin</h1>
<section id="signin" class="card" aria-labelledby="signin-title" hidden>
  <h2 id="signin-title">Sign in</h2>
  <p id="signin-message" class="error" role="alert"></p>
  <form id="token-form" class="stack" novalidate>
    <div class="field">
      <label for="token">Access token</label>
      <input id="token" type="password" autocomplete="off" spellcheck="false" aria-describedby="token-hint">
      <span class="hint" id="token-hint">An administrator or trainer token. It is kept in this browser tab only.</span>
    </div>
    <div><button type="submit">Sign in</button></div>
  </form>
</section>
<section id="not-for-role" class="notice warning" hidden>
  <p>This page is for administrators and trainers. Clients manage their plan on <a href="/pricing">Pricing</a>.</p>
</section>
<div class="toolbar" id="toolbar" hidden><button id="refresh" type="button" class="secondary">Refresh</button><p id="status" role="status"></p></div>
<div class="grid">
  <section id="clients" class="card wide" aria-labelledby="clients-title" data-roles="admin" hidden>
    <h2 id="clients-title">Clients</h2>
    <div id="clients-list"></div>
    <div class="pager"><button id="clients-prev" type="button" class="secondary" disabled>Previous page</button><button id="clients-next" type="button" class="secondary" disabled>Next page</button><span id="clients-page" class="muted"></span></div>
    <div class="error" id="clients-error" role="alert"></div>
  </section>
  <section id="client" class="card wide" aria-labelledby="client-title" data-roles="admin trainer" hidden>
    <h2 id="client-title" tabindex="-1">Client</h2>
    <form id="pick-form" class="row" novalidate data-roles="trainer">
      <div class="field"><label for="pick-id">Client id</label><input id="pick-id" class="mono" autocomplete="off" spellcheck="false" aria-describedby="pick-hint"><span class="hint" id="pick-hint">The client id your administrator gave you.</span></div>
      <div><button type="submit">Open client</button></div>
    </form>
    <p id="client-summary" class="muted">Choose a client with “Manage” in the list.</p>
    <div class="error" id="client-error" role="alert"></div>
    <div class="actions" id="client-actions" hidden>
      <form id="training-form" novalidate data-roles="admin trainer">
        <h3>Rectify training data</h3>
        <div class="field"><label for="t-height_inches">Height (inches)</label><input id="t-height_inches" name="height_inches" inputmode="numeric"></div>
        <div class="field"><label for="t-weight_lbs">Weight (lb)</label><input id="t-weight_lbs" name="weight_lbs" inputmode="decimal"></div>
        <div class="field"><label for="t-body_fat_percentage">Body fat (%)</label><input id="t-body_fat_percentage" name="body_fat_percentage" inputmode="decimal"></div>
        <div class="field"><label for="t-years_training_experience">Years of training</label><input id="t-years_training_experience" name="years_training_experience" inputmode="numeric"></div>
        <div class="field"><label for="t-training_tier">Training tier</label><select id="t-training_tier" name="training_tier"><option value="">None</option><option value="tier_1">Tier 1</option><option value="tier_2">Tier 2</option><option value="tier_3">Tier 3</option></select></div>
        <div class="field"><label for="t-session_rate_usd">Session rate (USD)</label><input id="t-session_rate_usd" name="session_rate_usd" inputmode="decimal"></div>
        <div><button type="submit">Save training data</button></div>
        <p id="training-result" role="status"></p>
        <div class="error" id="training-error" role="alert"></div>
      </form>
      <form id="assign-form" novalidate data-roles="admin">
        <h3>Assign a trainer</h3>
        <div class="field"><label for="assign-trainer">Trainer id</label><input id="assign-trainer" name="trainerId" class="mono" autocomplete="off" spellcheck="false"></div>
        <div><button type="submit">Assign trainer</button></div>
        <p id="assign-result" role="status"></p>
        <div class="error" id="assign-error" role="alert"></div>
      </form>
      <form id="restrict-form" novalidate data-roles="admin">
        <h3 id="restrict-title">Restrict processing</h3>
        <p class="hint" id="restrict-hint">The data is kept, but the AI coach, check-in messages and AI reads stop until the restriction is lifted.</p>
        <div class="field"><label for="restrict-reason">Reason</label><input id="restrict-reason" name="reason" autocomplete="off" maxlength="500"></div>
        <div><button type="submit" id="restrict-button">Restrict processing</button></div>
        <p id="restrict-result" role="status"></p>
        <div class="error" id="restrict-error" role="alert"></div>
      </form>
      <form id="erase-form" novalidate data-roles="admin">
        <h3>Erase</h3>
        <p class="hint">Erasure is irreversible: the client's key is destroyed, so their personal data can never be read again.</p>
        <div class="field"><label for="erase-reason">Reason</label><input id="erase-reason" name="reason" autocomplete="off" maxlength="500"></div>
        <div class="field"><label for="erase-confirm" id="erase-confirm-label">Type the client's alias to confirm</label><input id="erase-confirm" name="confirm" autocomplete="off" spellcheck="false"></div>
        <div><button type="submit" id="erase-button" class="danger" disabled>Erase client</button></div>
        <p id="erase-result" role="status"></p>
        <div class="error" id="erase-error" role="alert"></div>
      </form>
    </div>
  </section>
  <section id="create" class="card" aria-labelledby="create-title" data-roles="admin" hidden>
    <h2 id="create-title">Create a client</h2>
    <form id="create-form" class="stack" novalidate>
      <div class="field"><label for="c-full_name">Full name</label><input id="c-full_name" name="full_name" autocomplete="off" required></div>
      <div class="field"><label for="c-email">Email</label><input id="c-email" name="email" type="email" autocomplete="off" required></div>
      <div class="field"><label for="c-date_of_birth">Date of birth</label><input id="c-date_of_birth" name="date_of_birth" type="date" required></div>
      <div class="field"><label for="c-phone_number">Phone (optional)</label><input id="c-phone_number" name="phone_number" type="tel" autocomplete="off" placeholder="+14155550100"></div>
      <div class="field"><label for="c-emergency_name">Emergency contact name</label><input id="c-emergency_name" name="emergency_name" autocomplete="off"></div>
      <div class="field"><label for="c-emergency_phone">Emergency contact phone</label><input id="c-emergency_phone" name="emergency_phone" type="tel" autocomplete="off"></div>
      <div><button type="submit">Create client</button></div>
    </form>
    <p id="create-result" role="status"></p>
    <div class="error" id="create-error" role="alert"></div>
  </section>
  <section id="audit" class="card" aria-labelledby="audit-title" data-roles="admin" hidden>
    <h2 id="audit-title">Audit chain</h2>
    <p id="audit-result">—</p>
    <button id="audit-verify" type="button" class="secondary">Verify again</button>
    <div class="error" id="audit-error" role="alert"></div>
  </section>
  <section id="outbox" class="card wide" aria-labelledby="outbox-title" data-roles="admin" hidden>
    <h2 id="outbox-title">Outbox</h2>
    <div class="tiles" id="outbox-status"></div>
    <p>Oldest pending: <strong id="outbox-oldest">—</strong></p>
    <div id="outbox-types"></div>
    <div class="error" id="outbox-error" role="alert"></div>
  </section>
  <section id="dead" class="card wide" aria-labelledby="dead-title" data-roles="admin" hidden>
    <h2 id="dead-title">Dead-lettered events <span id="dead-count" class="muted"></span></h2>
    <div id="dead-list"></div>
    <p id="dead-status" role="status"></p>
    <div class="error" id="dead-error" role="alert"></div>
  </section>
  <section id="violators" class="card wide" aria-labelledby="violators-title" data-roles="admin" hidden>
    <h2 id="violators-title">Rate-limit violators <span id="violators-window" class="muted"></span></h2>
    <div id="violators-list"></div>
    <div class="error" id="violators-error" role="alert"></div>
  </section>
</div>`;

const SCRIPT = `(function () {
  'use strict';
  var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  var STATUSES = ['pending', 'processing', 'completed', 'dead'];
  var PAGE_SIZE = 20;
  var TRAINING = ['height_inches', 'weight_lbs', 'body_fat_percentage', 'years_training_experience', 'training_tier', 'session_rate_usd'];
  var INTEGERS = { height_inches: true, years_training_experience: true };
  var LABELS = { height_inches: 'Height', weight_lbs: 'Weight', body_fat_percentage: 'Body fat', years_training_experience: 'Years of training',
    training_tier: 'Training tier', session_rate_usd: 'Session rate', reason: 'Reason', full_name: 'Full name', email: 'Email', date_of_birth: 'Date of birth' };
  function $(id) { return document.getElementById(id); }
  var role = swanSession.token() ? swanSession.role() : null;
  /** The API with the session's token; a 401 ends the session and asks to sign in again. */
  function api(method, path, body) {
    return swanSession.api(method, path, body).then(function (r) {
      if (r.status === 401) signInAgain('Your sign-in has expired or is not valid: sign in again.');
      return r;
    });
  }
  function signInAgain(message) {
    swanSession.signOut();
    swanSession.showIn($('session'));
    document.querySelectorAll('[data-roles], #toolbar, #not-for-role').forEach(function (node) { node.hidden = true; });
    $('signin').hidden = false;
    $('signin-message').textContent = message;
  }
  var status = $('status');

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function clear(node) { node.replaceChildren(); }
  function label(path) {
    var key = String(path || '').split(/[./]/).pop();
    return LABELS[key] || path;
  }
  function showError(slot, error) {
    clear(slot);
    var e = error || {};
    slot.appendChild(el('p', e.code ? e.code + ': ' + e.message : (e.message || 'Unexpected answer from the server.')));
    if (Array.isArray(e.details) && e.details.length) {
      var list = el('ul');
      e.details.forEach(function (d) {
        list.appendChild(el('li', d && typeof d === 'object' ? [label(d.path), d.message].filter(Boolean).join(' ') : d));
      });
      slot.appendChild(list);
    }
  }
  function table(caption, headings, rows) {
    var wrap = el('div', null, 'table-scroll');
    wrap.tabIndex = 0;
    wrap.setAttribute('role', 'region');
    wrap.setAttribute('aria-label', caption);
    var t = wrap.appendChild(el('table'));
    var head = el('tr');
    headings.forEach(function (h) { head.appendChild(el('th', h)); });
    t.appendChild(el('thead')).appendChild(head);
    var tbody = t.appendChild(el('tbody'));
    rows.forEach(function (row) { tbody.appendChild(row); });
    return wrap;
  }
  function cell(content, className) {
    var td = el('td', null, className);
    if (content instanceof Node) td.appendChild(content); else td.textContent = content === undefined || content === null ? '' : String(content);
    return td;
  }
  function age(seconds) {
    var s = Math.max(0, Math.round(Number(seconds) || 0));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }
  function when(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }
  function statusBadge(value) { return el('span', value, 'status ' + value); }

  // Client id → Promise<alias | null>: from the client list, else from the training data (no PII in either).
  var aliases = {};
  function knowAlias(clientId, alias) { aliases[String(clientId).toLowerCase()] = Promise.resolve(alias); }
  function aliasOf(clientId) {
    var id = String(clientId).toLowerCase();
    if (!aliases[id]) {
      aliases[id] = api('GET', '/api/clients/' + encodeURIComponent(id) + '/training').then(function (r) {
        return r.body.success && r.body.training && typeof r.body.training.alias === 'string' ? r.body.training.alias : null;
      });
    }
    return aliases[id];
  }
  function clientLabel(clientId, fallback) {
    var span = el('span', '…', 'alias');
    aliasOf(clientId).then(function (alias) {
      if (alias) { span.textContent = alias; return; }
      span.className = 'muted';
      span.textContent = fallback === undefined ? 'unknown client' : fallback;
    });
    return span;
  }

  // ---- the client list, a page at a time (cursors of the pages seen, for "Previous page")
  var cursors = [null];
  function loadClients() {
    var slot = $('clients-error');
    var cursor = cursors[cursors.length - 1];
    return api('GET', '/api/admin/clients?limit=' + PAGE_SIZE + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '')).then(function (r) {
      var list = $('clients-list');
      clear(list); clear(slot);
      if (!r.body.success) { showError(slot, r.body.error); return false; }
      var clients = r.body.clients || [];
      $('clients-next').disabled = !r.body.nextCursor;
      $('clients-next').setAttribute('data-cursor', r.body.nextCursor || '');
      $('clients-prev').disabled = cursors.length < 2;
      $('clients-page').textContent = 'Page ' + cursors.length;
      if (!clients.length) { list.appendChild(el('p', 'No clients yet.', 'muted')); return true; }
      list.appendChild(table('Clients', ['Alias', 'Status', 'Since', ''], clients.map(function (c) {
        if (c.alias) knowAlias(c.clientId, c.alias);
        var row = el('tr');
        row.setAttribute('data-client-id', c.clientId);
        row.appendChild(cell(c.alias || '—', 'alias'));
        row.appendChild(cell(statusBadge(c.status)));
        row.appendChild(cell(new Date(c.createdAt).toLocaleDateString()));
        var manage = el('button', 'Manage', 'secondary manage');
        manage.type = 'button';
        manage.appendChild(el('span', ' ' + (c.alias || c.clientId), 'visually-hidden'));
        manage.addEventListener('click', function () { openClient({ clientId: c.clientId, alias: c.alias, status: c.status }); });
        row.appendChild(cell(manage));
        return row;
      })));
      return true;
    });
  }
  $('clients-next').addEventListener('click', function () { cursors.push($('clients-next').getAttribute('data-cursor')); loadClients(); });
  $('clients-prev').addEventListener('click', function () { if (cursors.length > 1) cursors.pop(); loadClients(); });

  // ---- one client's actions
  var current = null;
  var loaded = {};
  var RESULTS = ['training-result', 'training-error', 'assign-result', 'assign-error', 'restrict-result', 'restrict-error', 'erase-result', 'erase-error', 'client-error'];
  function showClient() {
    var summary = $('client-summary');
    clear(summary);
    summary.className = '';
    summary.appendChild(el('span', current.alias || 'Client without an alias', 'alias'));
    if (current.status) { summary.appendChild(el('span', ' ')); summary.appendChild(statusBadge(current.status)); }
    summary.appendChild(el('span', ' ' + current.clientId, 'mono muted'));
    var erased = current.status === 'erased';
    $('client-actions').hidden = erased;
    if (erased) return;
    var restricted = current.status === 'restricted';
    $('restrict-title').textContent = restricted ? 'Lift the restriction' : 'Restrict processing';
    $('restrict-button').textContent = restricted ? 'Lift the restriction' : 'Restrict processing';
    $('restrict-hint').textContent = restricted
      ? 'Processing of this client is restricted: the AI coach, check-in messages and AI reads resume once it is lifted.'
      : 'The data is kept, but the AI coach, check-in messages and AI reads stop until the restriction is lifted.';
    $('erase-confirm-label').textContent = 'Type “' + (current.alias || current.clientId) + '” to confirm';
  }
  function openClient(client) {
    current = client;
    RESULTS.forEach(function (id) { clear($(id)); });
    ['restrict-reason', 'erase-reason', 'erase-confirm', 'assign-trainer'].forEach(function (id) { $(id).value = ''; });
    $('erase-button').disabled = true;
    showClient();
    $('client-actions').hidden = true;
    $('client-title').focus(); // keyboard and screen-reader users land on the actions
    return api('GET', '/api/clients/' + encodeURIComponent(client.clientId) + '/training').then(function (r) {
      if (!r.body.success) { showError($('client-error'), r.body.error); return; }
      var t = r.body.training;
      current.alias = t.alias || current.alias;
      if (t.alias) knowAlias(current.clientId, t.alias);
      loaded = {};
      TRAINING.forEach(function (name) {
        loaded[name] = t[name] === undefined ? null : t[name];
        $('t-' + name).value = loaded[name] === null ? '' : String(loaded[name]);
      });
      showClient();
      $('client-actions').hidden = current.status === 'erased';
    });
  }
  $('pick-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var id = $('pick-id').value.trim();
    clear($('client-error'));
    if (!UUID.test(id)) { showError($('client-error'), { message: 'A client id looks like 0b7c…-…: 36 characters with dashes.' }); return; }
    openClient({ clientId: id, alias: null, status: null });
  });

  function done(result, text) { clear(result); result.textContent = text; }
  /** The reason the audit log keeps for a restriction or an erasure; null (and the field marked) when empty. */
  function reasonFrom(input, slot) {
    var reason = input.value.trim();
    input.setAttribute('aria-invalid', reason ? 'false' : 'true');
    if (reason) return reason;
    showError(slot, { message: 'Give a reason: it is kept in the audit log.' });
    input.focus();
    return null;
  }
  function refreshClient(newStatus) {
    current.status = newStatus;
    showClient();
    if (role === 'admin') loadClients();
  }

  $('training-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var changes = {};
    TRAINING.forEach(function (name) {
      var raw = $('t-' + name).value.trim();
      var value = raw === '' ? null : name === 'training_tier' ? raw : (Number.isFinite(Number(raw)) ? Number(raw) : raw);
      var same = value === loaded[name] || (typeof value === 'number' && loaded[name] !== null && Number(loaded[name]) === value);
      if (!same) changes[name] = value;
    });
    var names = Object.keys(changes);
    clear($('training-error'));
    if (!names.length) { done($('training-result'), 'Nothing changed.'); return; }
    done($('training-result'), 'Saving…');
    api('PATCH', '/api/clients/' + encodeURIComponent(current.clientId) + '/training', changes).then(function (r) {
      clear($('training-result'));
      if (!r.body.success) { showError($('training-error'), r.body.error); return; }
      names.forEach(function (name) { loaded[name] = changes[name]; });
      done($('training-result'), 'Saved: ' + r.body.client.fields.map(label).join(', ') + '.');
    });
  });

  $('assign-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var trainerId = $('assign-trainer').value.trim();
    clear($('assign-error'));
    done($('assign-result'), 'Assigning…');
    api('PUT', '/api/trainers/' + encodeURIComponent(trainerId) + '/clients/' + encodeURIComponent(current.clientId)).then(function (r) {
      clear($('assign-result'));
      if (!r.body.success) { showError($('assign-error'), r.body.error); return; }
      var result = $('assign-result');
      result.appendChild(el('span', 'Trainer '));
      result.appendChild(el('code', r.body.assignment.trainerId));
      result.appendChild(el('span', ' assigned to '));
      result.appendChild(clientLabel(r.body.assignment.clientId));
      result.appendChild(el('span', '.'));
    });
  });

  $('restrict-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var lift = current.status === 'restricted';
    clear($('restrict-error')); clear($('restrict-result'));
    var reason = reasonFrom($('restrict-reason'), $('restrict-error'));
    if (!reason) return;
    done($('restrict-result'), lift ? 'Lifting…' : 'Restricting…');
    api('POST', '/api/clients/' + encodeURIComponent(current.clientId) + (lift ? '/unrestrict' : '/restrict'), { reason: reason }).then(function (r) {
      clear($('restrict-result'));
      if (!r.body.success) { showError($('restrict-error'), r.body.error); return; }
      $('restrict-reason').value = '';
      refreshClient(lift ? 'active' : 'restricted');
      done($('restrict-result'), lift ? 'The restriction is lifted.' : 'Processing is restricted.');
    });
  });

  function eraseConfirmed() { return current && $('erase-confirm').value.trim() === (current.alias || current.clientId); }
  $('erase-confirm').addEventListener('input', function () { $('erase-button').disabled = !eraseConfirmed(); });
  $('erase-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if (!eraseConfirmed()) return;
    var alias = current.alias || current.clientId;
    clear($('erase-error'));
    var reason = reasonFrom($('erase-reason'), $('erase-error'));
    if (!reason) return;
    $('erase-button').disabled = true;
    done($('erase-result'), 'Erasing…');
    api('POST', '/api/clients/' + encodeURIComponent(current.clientId) + '/erase', { reason: reason }).then(function (r) {
      clear($('erase-result'));
      if (!r.body.success) { $('erase-button').disabled = !eraseConfirmed(); showError($('erase-error'), r.body.error); return; }
      refreshClient('erased');
      done($('client-summary'), alias + ' is erased: their personal data can no longer be read.');
    });
  });

  // ---- create a client
  $('create-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var form = e.target;
    var value = function (name) { return form.elements[name].value.trim(); };
    var emergency = {};
    if (value('emergency_name')) emergency.name = value('emergency_name');
    if (value('emergency_phone')) emergency.phone = value('emergency_phone');
    var pii = { full_name: value('full_name'), email: value('email'), date_of_birth: value('date_of_birth'), emergency_contact: emergency };
    if (value('phone_number')) pii.phone_number = value('phone_number');
    var result = $('create-result');
    clear($('create-error'));
    done(result, 'Creating…');
    api('POST', '/api/clients', { pii: pii, training: {} }).then(function (r) {
      clear(result);
      if (!r.body.success) { showError($('create-error'), r.body.error); return; }
      var c = r.body.client;
      form.reset(); // the name and email leave the page
      knowAlias(c.clientId, c.alias);
      result.appendChild(el('span', 'Created '));
      var alias = el('span', c.alias, 'alias');
      alias.id = 'created-alias';
      result.appendChild(alias);
      result.appendChild(el('span', ' — id '));
      var id = el('code', c.clientId);
      id.id = 'created-id';
      result.appendChild(id);
      loadClients();
    });
  });

  // ---- outbox, dead letters, violators, audit
  function loadStats() {
    var slot = $('outbox-error');
    return api('GET', '/api/admin/outbox/stats').then(function (r) {
      var tiles = $('outbox-status');
      var types = $('outbox-types');
      clear(tiles); clear(types); clear(slot);
      if (!r.body.success) { $('outbox-oldest').textContent = '—'; showError(slot, r.body.error); return false; }
      var byStatus = r.body.byStatus || {};
      STATUSES.forEach(function (s) {
        var tile = el('div', null, 'tile ' + s);
        tile.setAttribute('data-status', s);
        tile.appendChild(el('strong', byStatus[s] || 0));
        tile.appendChild(el('span', s));
        tiles.appendChild(tile);
      });
      $('outbox-oldest').textContent = age(r.body.oldestPendingAgeSeconds);
      var byType = r.body.byType || {};
      var names = Object.keys(byType).sort();
      if (!names.length) { types.appendChild(el('p', 'No events yet.', 'muted')); return true; }
      types.appendChild(table('Outbox events by type', ['Event type'].concat(STATUSES), names.map(function (name) {
        var row = el('tr');
        row.setAttribute('data-event-type', name);
        row.appendChild(cell(name, 'mono'));
        STATUSES.forEach(function (s) { row.appendChild(cell(byType[name][s] || 0)); });
        return row;
      })));
      return true;
    });
  }

  function deadClientId(event) {
    if (event.aggregateType === 'client' && UUID.test(event.aggregateId || '')) return event.aggregateId;
    var fromPayload = event.payload && event.payload.clientId;
    return typeof fromPayload === 'string' && UUID.test(fromPayload) ? fromPayload : null;
  }

  function loadDead() {
    var slot = $('dead-error');
    return api('GET', '/api/admin/outbox/dead').then(function (r) {
      var list = $('dead-list');
      clear(list); clear(slot);
      if (!r.body.success) { $('dead-count').textContent = ''; showError(slot, r.body.error); return false; }
      var events = r.body.events || [];
      $('dead-count').textContent = '(' + events.length + ')';
      if (!events.length) { list.appendChild(el('p', 'No dead-lettered events.', 'muted')); return true; }
      list.appendChild(table('Dead-lettered events', ['Event', 'Client', 'Attempts', 'Last error', 'Failed at', ''], events.map(function (event) {
        var row = el('tr');
        row.setAttribute('data-event-id', event.eventId);
        var what = el('div');
        what.appendChild(el('div', event.eventType, 'mono'));
        what.appendChild(el('div', event.eventId, 'mono muted'));
        row.appendChild(cell(what));
        var clientId = deadClientId(event);
        row.appendChild(cell(clientId ? clientLabel(clientId) : el('span', '—', 'muted')));
        row.appendChild(cell(event.attempts + ' / ' + event.maxAttempts));
        row.appendChild(cell(event.lastError || ''));
        row.appendChild(cell(when(event.lastErrorAt || event.createdAt)));
        var button = el('button', 'Redrive', 'redrive');
        button.type = 'button';
        button.addEventListener('click', function () { redrive(event.eventId, button); });
        row.appendChild(cell(button));
        return row;
      })));
      return true;
    });
  }

  function redrive(eventId, button) {
    button.disabled = true;
    $('dead-status').textContent = 'Redriving…';
    api('POST', '/api/admin/outbox/dead/' + encodeURIComponent(eventId) + '/redrive').then(function (r) {
      if (!r.body.success) {
        button.disabled = false;
        $('dead-status').textContent = '';
        showError($('dead-error'), r.body.error);
        return;
      }
      $('dead-status').textContent = 'Event ' + r.body.eventId + ' is ' + r.body.status + ' again.';
      return Promise.all([loadDead(), loadStats()]);
    });
  }

  function loadViolators() {
    var slot = $('violators-error');
    return api('GET', '/api/admin/rate-limit/violators').then(function (r) {
      var list = $('violators-list');
      clear(list); clear(slot);
      if (!r.body.success) { $('violators-window').textContent = ''; showError(slot, r.body.error); return false; }
      $('violators-window').textContent = '(this ' + r.body.windowSeconds + ' s window; alert at ' + r.body.threshold + ')';
      var violators = r.body.violators || [];
      if (!violators.length) { list.appendChild(el('p', 'No violations in this window.', 'muted')); return true; }
      list.appendChild(table('Rate-limit violators', ['Policy', 'Who', 'Violations'], violators.map(function (v) {
        var row = el('tr');
        row.appendChild(cell(v.policy, 'mono'));
        var actor = /^actor:(.+)$/.exec(v.key || '');
        // an actor may be a client: shown by alias; anyone else by the pseudonymous key
        row.appendChild(cell(actor && UUID.test(actor[1]) ? clientLabel(actor[1], v.key) : el('span', v.key, 'mono')));
        row.appendChild(cell(v.violations));
        return row;
      })));
      return true;
    });
  }

  function loadAudit() {
    var slot = $('audit-error');
    var result = $('audit-result');
    return api('GET', '/api/audit/verify').then(function (r) {
      clear(slot); clear(result);
      if (!r.body.success) { result.textContent = '—'; showError(slot, r.body.error); return false; }
      result.appendChild(el('strong', r.body.valid ? '✓ Chain valid' : '✗ Chain broken', r.body.valid ? 'ok' : 'error'));
      result.appendChild(el('span', ' — ' + r.body.entries + ' entries'));
      if (!r.body.valid && r.body.firstBrokenId !== undefined && r.body.firstBrokenId !== null) {
        result.appendChild(el('span', '; first broken entry: '));
        result.appendChild(el('code', r.body.firstBrokenId));
      }
      return true;
    });
  }

  function load() {
    if (role !== 'admin') return Promise.resolve();
    status.textContent = 'Loading…';
    return Promise.all([loadClients(), loadStats(), loadDead(), loadViolators(), loadAudit()]).then(function (results) {
      var failed = results.filter(function (ok) { return !ok; }).length;
      if (failed && results.every(function (ok) { return !ok; })) {
        status.textContent = 'Nothing could be loaded: see the messages below. Your sign-in may have expired.';
        return;
      }
      status.textContent = 'Updated ' + new Date().toLocaleTimeString() + (failed ? ': ' + failed + ' of ' + results.length + ' panels could not load (see below).' : '.');
    });
  }

  // ---- who sees what
  $('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var value = $('token').value.trim();
    $('token').value = '';
    if (!value) return;
    swanSession.signIn(value);
    location.reload();
  });
  $('refresh').addEventListener('click', function () { load(); });
  $('audit-verify').addEventListener('click', function () { loadAudit(); });

  swanSession.showIn($('session'));
  if (!swanSession.token()) { $('signin').hidden = false; return; }
  if (!role) { signInAgain('That is not an access token this page can read: sign in again.'); return; }
  if (role !== 'admin' && role !== 'trainer') { $('not-for-role').hidden = false; return; }
  document.querySelectorAll('[data-roles]').forEach(function (node) {
    node.hidden = node.getAttribute('data-roles').split(' ').indexOf(role) < 0;
  });
  if (role === 'trainer') $('client-summary').textContent = 'Open a client by id to rectify their training data.';
  $('toolbar').hidden = role !== 'admin';
  load();
})();
`;
