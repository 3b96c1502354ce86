import { htmlPageRoute } from './html.js';
import type { DocumentedRoute } from '@swan/core';

/** Where the admin page is served. */
export const ADMIN_PAGE_PATH = '/admin';

/**
 * `GET /admin`: the operator's page. It holds no data itself (a public route): everything it shows
 * comes from the admin-only routes of API.md, called from the browser with the admin's bearer token:
 *
 * - outbox stats (`GET /api/admin/outbox/stats`): counts by status and by type, oldest pending age;
 * - dead-lettered events (`GET /api/admin/outbox/dead`), each with a "Redrive" button
 *   (`POST /api/admin/outbox/dead/:eventId/redrive`) that refreshes the list;
 * - rate-limit violators (`GET /api/admin/rate-limit/violators`);
 * - the audit chain check (`GET /api/audit/verify`);
 * - "create client" (`POST /api/clients`, the answer shows the new client's alias and id) and
 *   "assign trainer" (`PUT /api/trainers/:trainerId/clients/:clientId`).
 *
 * A client is shown by its Galaxy-Swan alias, never a name or email: the page resolves an id to an
 * alias with `GET /api/clients/:clientId/training` (training data carries the alias, no PII).
 * Every failure shows the error envelope's `code` and `message`. Everything is rendered with
 * `textContent` (no `innerHTML`), under a nonce-based Content-Security-Policy with no inline
 * handlers.
 *
 * The token comes from the URL fragment (`/admin#token=…`, never sent to the server or its logs),
 * is removed from the address bar and kept in `localStorage` (`swan.token`), or is pasted into
 * the form. A real deployment would use its own session instead.
 *
 * @example
 * ```ts
 * export const adminModule: ServerModule = { name: 'admin', setup: () => ({ routes: [adminPageRoute()] }) };
 * // then open http://localhost:3000/admin#token=<admin JWT>
 * ```
 */
export function adminPageRoute(): DocumentedRoute {
  return htmlPageRoute(ADMIN_PAGE_PATH, page, { summary: 'Admin page (its data comes from the admin routes, called with the admin\'s token)' });
}

function page(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SwanStudios admin</title>
<style nonce="${nonce}">
  body { font-family: system-ui, sans-serif; margin: 0; background: #0a0a1a; color: #e8ecff; }
  main { max-width: 1100px; margin: 0 auto; padding: 2rem 1rem; }
  h1 { margin-top: 0; }
  h2 { font-size: 1.15rem; margin: 0 0 .75rem; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
  section { background: rgba(255,255,255,.06); border: 1px solid rgba(120,160,255,.3); border-radius: 16px; padding: 1.25rem; overflow-x: auto; }
  section.wide { grid-column: 1 / -1; }
  .tiles { display: flex; gap: .75rem; flex-wrap: wrap; margin-bottom: .75rem; }
  .tile { background: rgba(0,200,255,.08); border-radius: 12px; padding: .5rem .9rem; min-width: 5.5rem; }
  .tile strong { display: block; font-size: 1.6rem; }
  .tile.dead strong { color: #ff8fa3; }
  table { border-collapse: collapse; width: 100%; font-size: .92rem; }
  th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid rgba(120,160,255,.18); vertical-align: top; }
  th { color: #aab4e8; font-weight: 600; }
  code, .mono { font-family: ui-monospace, monospace; font-size: .85rem; word-break: break-all; }
  button { display: inline-block; padding: .5rem .9rem; border-radius: 10px; border: 0; background: #00c8ff; color: #001; font-weight: 600; cursor: pointer; }
  button.secondary { background: #445; color: #e8ecff; }
  button[disabled] { opacity: .6; cursor: progress; }
  form { display: flex; flex-wrap: wrap; gap: .5rem; margin: 0; align-items: flex-end; }
  form.stack { flex-direction: column; align-items: stretch; }
  label { display: flex; flex-direction: column; gap: .2rem; font-size: .85rem; color: #aab4e8; flex: 1; }
  input { padding: .45rem; border-radius: 8px; border: 1px solid #445; background: #111; color: #eee; }
  .error { color: #ff8fa3; min-height: 1.1em; margin: .5rem 0 0; }
  .error ul { margin: .25rem 0 0; padding-left: 1.2rem; }
  .ok { color: #7dffb2; }
  .bad { color: #ff8fa3; }
  .muted { color: #99a; }
  .alias { font-weight: 600; color: #ffd97a; }
  #status { min-height: 1.5rem; }
  .toolbar { display: flex; gap: .5rem; align-items: center; margin: 1rem 0; flex-wrap: wrap; }
</style>
</head>
<body>
<main>
  <h1>SwanStudios admin</h1>
  <form id="token-form"><input id="token" type="password" autocomplete="off" placeholder="Paste an admin access token" aria-label="Access token"><button type="submit">Use token</button><button id="forget" type="button" class="secondary">Forget token</button></form>
  <div class="toolbar"><button id="refresh" type="button">Refresh</button><p id="status" role="status"></p></div>
  <div class="grid">
    <section id="outbox" class="wide" aria-labelledby="outbox-title">
      <h2 id="outbox-title">Outbox</h2>
      <div class="tiles" id="outbox-status"></div>
      <p>Oldest pending: <strong id="outbox-oldest">—</strong></p>
      <div id="outbox-types"></div>
      <div class="error" id="outbox-error" role="alert"></div>
    </section>
    <section id="dead" class="wide" aria-labelledby="dead-title">
      <h2 id="dead-title">Dead-lettered events <span id="dead-count" class="muted"></span></h2>
      <div id="dead-list"></div>
      <p id="dead-status" role="status"></p>
      <div class="error" id="dead-error" role="alert"></div>
    </section>
    <section id="violators" class="wide" aria-labelledby="violators-title">
      <h2 id="violators-title">Rate-limit violators <span id="violators-window" class="muted"></span></h2>
      <div id="violators-list"></div>
      <div class="error" id="violators-error" role="alert"></div>
    </section>
    <section id="audit" aria-labelledby="audit-title">
      <h2 id="audit-title">Audit chain</h2>
      <p id="audit-result">—</p>
      <button id="audit-verify" type="button" class="secondary">Verify again</button>
      <div class="error" id="audit-error" role="alert"></div>
    </section>
    <section id="create" aria-labelledby="create-title">
      <h2 id="create-title">Create client</h2>
      <form id="create-form" class="stack" novalidate>
        <label>Full name <input name="full_name" autocomplete="off" required></label>
        <label>Email <input name="email" type="email" autocomplete="off" required></label>
        <label>Date of birth <input name="date_of_birth" type="date" required></label>
        <label>Phone (optional) <input name="phone_number" type="tel" autocomplete="off" placeholder="+14155550100"></label>
        <label>Emergency contact name <input name="emergency_name" autocomplete="off"></label>
        <label>Emergency contact phone <input name="emergency_phone" type="tel" autocomplete="off"></label>
        <button type="submit">Create client</button>
      </form>
      <p id="create-result" role="status"></p>
      <div class="error" id="create-error" role="alert"></div>
    </section>
    <section id="assign" aria-labelledby="assign-title">
      <h2 id="assign-title">Assign trainer</h2>
      <form id="assign-form" class="stack" novalidate>
        <label>Trainer id <input name="trainerId" autocomplete="off" spellcheck="false" class="mono"></label>
        <label>Client id <input name="clientId" autocomplete="off" spellcheck="false" class="mono"></label>
        <button type="submit">Assign trainer</button>
      </form>
      <p id="assign-result" role="status"></p>
      <div class="error" id="assign-error" role="alert"></div>
    </section>
  </div>
</main>
<script nonce="${nonce}">
(function () {
  'use strict';
  var KEY = 'swan.token';
  var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  var STATUSES = ['pending', 'processing', 'completed', 'dead'];
  function $(id) { return document.getElementById(id); }
  var status = $('status');

  var fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get('token')) {
    localStorage.setItem(KEY, fragment.get('token'));
    history.replaceState(null, '', location.pathname + location.search);
  }
  function token() { return localStorage.getItem(KEY) || ''; }

  /** Calls the API; always resolves to the JSON envelope (or a synthetic one without a code). */
  function api(method, path, body) {
    var headers = { authorization: 'Bearer ' + token() };
    var init = { method: method, headers: headers, cache: 'no-store' };
    if (body !== undefined) { headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (res) {
      return res.json().catch(function () {
        return { success: false, error: { code: null, message: 'The server answered ' + res.status + ' without a JSON body.' } };
      });
    }, function () {
      return { success: false, error: { code: null, message: 'Could not reach the server.' } };
    });
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function clear(node) { node.replaceChildren(); }
  function showError(slot, error) {
    clear(slot);
    var e = error || {};
    slot.appendChild(el('p', e.code ? e.code + ': ' + e.message : (e.message || 'Unexpected answer from the server.')));
    if (Array.isArray(e.details) && e.details.length) {
      var list = el('ul');
      e.details.forEach(function (d) {
        list.appendChild(el('li', d && typeof d === 'object' ? [d.path, d.message].filter(Boolean).join(' ') : d));
      });
      slot.appendChild(list);
    }
  }
  function table(headings, rows) {
    var t = el('table');
    var head = el('tr');
    headings.forEach(function (h) { head.appendChild(el('th', h)); });
    t.appendChild(el('thead')).appendChild(head);
    var tbody = t.appendChild(el('tbody'));
    rows.forEach(function (row) { tbody.appendChild(row); });
    return t;
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

  // Client id → Promise<alias | null>, from the training data (no PII in it).
  var aliases = {};
  function aliasOf(clientId) {
    var id = String(clientId).toLowerCase();
    if (!aliases[id]) {
      aliases[id] = api('GET', '/api/clients/' + encodeURIComponent(id) + '/training').then(function (r) {
        return r.success && r.training && typeof r.training.alias === 'string' ? r.training.alias : null;
      });
    }
    return aliases[id];
  }
  /** A span showing the client's alias once known ("unknown client" when the id resolves to none). */
  function clientLabel(clientId, fallback) {
    var span = el('span', '…', 'alias');
    aliasOf(clientId).then(function (alias) {
      if (alias) { span.textContent = alias; return; }
      span.className = 'muted';
      span.textContent = fallback === undefined ? 'unknown client' : fallback;
    });
    return span;
  }

  function loadStats() {
    var slot = $('outbox-error');
    return api('GET', '/api/admin/outbox/stats').then(function (r) {
      var tiles = $('outbox-status');
      var types = $('outbox-types');
      clear(tiles); clear(types); clear(slot);
      if (!r.success) { $('outbox-oldest').textContent = '—'; showError(slot, r.error); return false; }
      var byStatus = r.byStatus || {};
      STATUSES.forEach(function (s) {
        var tile = el('div', null, 'tile ' + s);
        tile.setAttribute('data-status', s);
        tile.appendChild(el('strong', byStatus[s] || 0));
        tile.appendChild(el('span', s));
        tiles.appendChild(tile);
      });
      $('outbox-oldest').textContent = age(r.oldestPendingAgeSeconds);
      var names = Object.keys(r.byType || {}).sort();
      if (!names.length) { types.appendChild(el('p', 'No events yet.', 'muted')); return true; }
      types.appendChild(table(['Event type'].concat(STATUSES), names.map(function (name) {
        var row = el('tr');
        row.setAttribute('data-event-type', name);
        row.appendChild(cell(name, 'mono'));
        STATUSES.forEach(function (s) { row.appendChild(cell(r.byType[name][s] || 0)); });
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
      if (!r.success) { $('dead-count').textContent = ''; showError(slot, r.error); return false; }
      var events = r.events || [];
      $('dead-count').textContent = '(' + events.length + ')';
      if (!events.length) { list.appendChild(el('p', 'No dead-lettered events.', 'muted')); return true; }
      list.appendChild(table(['Event', 'Client', 'Attempts', 'Last error', 'Failed at', ''], events.map(function (event) {
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
        var button = el('button', 'Redrive');
        button.type = 'button';
        button.className = 'redrive';
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
      if (!r.success) {
        button.disabled = false;
        $('dead-status').textContent = '';
        showError($('dead-error'), r.error);
        return;
      }
      $('dead-status').textContent = 'Event ' + r.eventId + ' is ' + r.status + ' again.';
      return Promise.all([loadDead(), loadStats()]);
    });
  }

  function loadViolators() {
    var slot = $('violators-error');
    return api('GET', '/api/admin/rate-limit/violators').then(function (r) {
      var list = $('violators-list');
      clear(list); clear(slot);
      if (!r.success) { $('violators-window').textContent = ''; showError(slot, r.error); return false; }
      $('violators-window').textContent = '(this ' + r.windowSeconds + ' s window; alert at ' + r.threshold + ')';
      var violators = r.violators || [];
      if (!violators.length) { list.appendChild(el('p', 'No violations in this window.', 'muted')); return true; }
      list.appendChild(table(['Policy', 'Who', 'Violations'], violators.map(function (v) {
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
      if (!r.success) { result.textContent = '—'; showError(slot, r.error); return false; }
      result.appendChild(el('strong', r.valid ? '✓ Chain valid' : '✗ Chain broken', r.valid ? 'ok' : 'bad'));
      result.appendChild(el('span', ' — ' + r.entries + ' entries'));
      if (!r.valid && r.firstBrokenId !== undefined && r.firstBrokenId !== null) {
        result.appendChild(el('span', '; first broken entry: '));
        result.appendChild(el('code', r.firstBrokenId));
      }
      return true;
    });
  }

  function load() {
    if (!token()) { status.textContent = 'Paste an admin access token to load the dashboard.'; return Promise.resolve(); }
    status.textContent = 'Loading…';
    return Promise.all([loadStats(), loadDead(), loadViolators(), loadAudit()]).then(function (done) {
      var failed = done.filter(function (ok) { return !ok; }).length;
      status.textContent = 'Updated ' + new Date().toLocaleTimeString() + (failed ? ': ' + failed + ' of ' + done.length + ' panels could not load (see below).' : '.');
    });
  }

  $('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var value = $('token').value.trim();
    $('token').value = '';
    if (value) localStorage.setItem(KEY, value);
    aliases = {};
    // results of the previous token's actions
    ['dead-status', 'create-result', 'create-error', 'assign-result', 'assign-error'].forEach(function (id) { clear($(id)); });
    load();
  });
  $('forget').addEventListener('click', function () {
    localStorage.removeItem(KEY);
    aliases = {};
    location.reload();
  });
  $('refresh').addEventListener('click', function () { load(); });
  $('audit-verify').addEventListener('click', function () { loadAudit(); });

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
    clear(result); clear($('create-error'));
    result.textContent = 'Creating…';
    api('POST', '/api/clients', { pii: pii, training: {} }).then(function (r) {
      clear(result);
      if (!r.success) { showError($('create-error'), r.error); return; }
      var c = r.client;
      form.reset(); // the name and email leave the page
      aliases[String(c.clientId).toLowerCase()] = Promise.resolve(c.alias);
      result.appendChild(el('span', 'Created '));
      var alias = el('span', c.alias, 'alias');
      alias.id = 'created-alias';
      result.appendChild(alias);
      result.appendChild(el('span', ' — id '));
      var id = el('code', c.clientId);
      id.id = 'created-id';
      result.appendChild(id);
      $('assign-form').elements.clientId.value = c.clientId;
    });
  });

  $('assign-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var form = e.target;
    var trainerId = form.elements.trainerId.value.trim();
    var clientId = form.elements.clientId.value.trim();
    var result = $('assign-result');
    clear(result); clear($('assign-error'));
    result.textContent = 'Assigning…';
    api('PUT', '/api/trainers/' + encodeURIComponent(trainerId) + '/clients/' + encodeURIComponent(clientId)).then(function (r) {
      clear(result);
      if (!r.success) { showError($('assign-error'), r.error); return; }
      result.appendChild(el('span', 'Trainer '));
      result.appendChild(el('code', r.assignment.trainerId));
      result.appendChild(el('span', ' assigned to '));
      result.appendChild(clientLabel(r.assignment.clientId));
      result.appendChild(el('span', '.'));
    });
  });

  load();
})();
</script>
</body>
</html>`;
}
