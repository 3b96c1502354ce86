import { htmlPageRoute } from './html.js';
import type { DocumentedRoute, SwanResponse } from '@swan/core';
import { browserValidatorSource, masterPromptSchema } from '@swan/schema';

/** Where the page loads the precompiled validator from (an ES module, no eval: CSP-safe). */
export const VALIDATOR_ASSET_PATH = '/assets/master-prompt-validator.js';
/** The page's own script. */
export const ONBOARDING_SCRIPT_PATH = '/assets/onboarding.js';

/** A node of the master prompt schema, as far as the form reads it. */
interface SchemaNode {
  $ref?: string;
  type?: string;
  enum?: readonly string[];
  required?: readonly string[];
  properties?: Readonly<Record<string, SchemaNode>>;
}
const definitions = masterPromptSchema.definitions as unknown as Readonly<Record<string, SchemaNode>>;
const resolve = (node: SchemaNode): SchemaNode => (node.$ref ? resolve(definitions[node.$ref.replace('#/definitions/', '')]!) : node);

/**
 * The schema node of a field and whether the form must fill it: required at every level from the
 * root (an optional section's required field is optional until the section is used).
 */
function schemaOf(pointer: string): { node: SchemaNode; required: boolean } {
  let node = resolve(masterPromptSchema as unknown as SchemaNode);
  let required = true;
  for (const key of pointer.slice(1).split('/')) {
    required &&= node.required?.includes(key) ?? false;
    const next = node.properties?.[key];
    if (!next) throw new Error(`onboarding: ${pointer} is not in the master prompt schema`);
    node = resolve(next);
  }
  return { node, required };
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** One form field: its label (the key of the labels map `describeErrors` gets), unit and hint. */
interface Field {
  path: string;
  label: string;
  /** The schema's unit, stated next to the label and used in messages. */
  unit?: string;
  /** The metric unit shown instead, and how many of it make one schema unit (2.54 cm per inch). */
  metric?: { unit: string; perUnit: number };
  hint?: string;
  value?: string;
}

/** The control for a field, chosen by its schema type: a select for an enum, a checkbox for a boolean. */
function control(field: Field, id: string, required: boolean, node: SchemaNode): string {
  const common = `id="${id}" data-path="${field.path}" data-label="${escape(field.label)}"${field.unit ? ` data-unit="${field.unit}"` : ''}${
    field.metric ? ` data-metric-unit="${field.metric.unit}" data-per-unit="${field.metric.perUnit}"` : ''}${required ? ' aria-required="true"' : ''}${
    field.hint ? ` aria-describedby="${id}-hint"` : ''}`;
  if (node.type === 'boolean') return `<input type="checkbox" ${common}${field.value === 'true' ? ' checked' : ''}>`;
  if (node.enum) {
    return `<select ${common}><option value="">${required ? 'Choose…' : 'Not given'}</option>${node.enum.map((v) => `<option>${escape(v)}</option>`).join('')}</select>`;
  }
  if (node.type === 'integer' || node.type === 'number') {
    return `<input type="text" inputmode="${node.type === 'integer' && !field.metric ? 'numeric' : 'decimal'}" data-type="${node.type}" autocomplete="off" ${common}${field.value ? ` value="${field.value}"` : ''}>`;
  }
  return `<input type="text" autocomplete="off" ${common}>`;
}

function field(f: Field): string {
  const id = f.path.slice(1).replace(/\//g, '-');
  const { node, required } = schemaOf(f.path);
  const marker = required ? ' <span class="required" aria-hidden="true">*</span>' : '';
  const unit = f.unit ? ` <span class="unit" data-unit-for="${id}">(${f.unit})</span>` : '';
  const hint = f.hint ? `<p class="hint" id="${id}-hint">${f.hint}</p>` : '';
  const error = `<p class="error" id="${id}-error" data-error-for="${f.path}"></p>`;
  if (node.type === 'boolean') {
    return `<div class="field check">${control(f, id, required, node)}<label for="${id}">${escape(f.label)}${marker}</label>${hint}${error}</div>`;
  }
  return `<div class="field"><label for="${id}">${escape(f.label)}${unit}${marker}</label>${hint}${control(f, id, required, node)}${error}</div>`;
}

const INCH_CM = 2.54;
const LB_KG = 0.45359237;

const SECTIONS: readonly { legend: string; fields: readonly Field[]; units?: boolean }[] = [
  { legend: 'Body metrics', units: true, fields: [
    { path: '/client_profile/basic_info/age', label: 'Age', unit: 'years', hint: 'Age only, never the date of birth' },
    { path: '/client_profile/basic_info/gender', label: 'Gender' },
    { path: '/client_profile/basic_info/height_inches', label: 'Height', unit: 'inches', metric: { unit: 'cm', perUnit: INCH_CM } },
    { path: '/client_profile/basic_info/weight_lbs', label: 'Weight', unit: 'lbs', metric: { unit: 'kg', perUnit: LB_KG } },
    { path: '/client_profile/basic_info/body_fat_percentage', label: 'Body fat', unit: '%' },
    { path: '/client_profile/basic_info/bmi', label: 'BMI' },
  ] },
  { legend: 'Package', fields: [
    { path: '/client_profile/training_tier/tier', label: 'Tier' },
    { path: '/client_profile/training_tier/tier_name', label: 'Tier name', hint: 'As the client knows it, e.g. Gold Swan' },
    { path: '/client_profile/training_tier/session_rate_usd', label: 'Session rate', unit: 'USD' },
    { path: '/client_profile/training_tier/sessions_per_week', label: 'Sessions per week' },
  ] },
  { legend: 'Goals and preferences', fields: [
    { path: '/client_profile/training_goals/primary_goal', label: 'Primary goal' },
    { path: '/client_profile/training_history/years_training_experience', label: 'Training experience', unit: 'years' },
    { path: '/client_profile/session_preferences/preferred_time_of_day', label: 'Preferred time of day' },
    { path: '/client_profile/session_preferences/session_length_minutes', label: 'Session length', unit: 'minutes' },
  ] },
  { legend: 'Record keeping', fields: [
    { path: '/meta/confidentiality_level', label: 'Confidentiality' },
    { path: '/meta/data_retention_years', label: 'Keep the record for', unit: 'years', value: '7' },
    { path: '/meta/hipaa_compliant', label: 'Handled under HIPAA safeguards', value: 'true' },
  ] },
];

const CLIENT_PATH = '/meta/client_id';

function page(nonce: string): string {
  const units = `<fieldset class="units"><legend>Units</legend>
    <label><input type="radio" name="units" value="imperial" checked> Imperial (inches, lbs)</label>
    <label><input type="radio" name="units" value="metric"> Metric (cm, kg)</label>
    <p class="hint">Stored in inches and pounds either way.</p>
  </fieldset>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Client onboarding</title>
<style nonce="${nonce}">
  :root { color-scheme: light; --ink: #1d2433; --muted: #596275; --line: #c9cfdb; --accent: #0b5fff; --bad: #b3261e; }
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; background: #f6f7fb; color: var(--ink); line-height: 1.5; }
  main { max-width: 860px; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
  h1 { margin: 0 0 .25rem; font-size: 1.75rem; }
  input, select, button, textarea { font: inherit; color: inherit; }
  fieldset { border: 1px solid var(--line); border-radius: 12px; margin: 1rem 0; padding: 1rem; background: #fff; display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: .25rem 1rem; min-width: 0; }
  legend { padding: 0 .4rem; font-weight: 600; }
  .field { display: flex; flex-direction: column; gap: .2rem; min-width: 0; }
  .field input[type=text], .field select { padding: .5rem .6rem; border-radius: 8px; border: 1px solid #8a93a6; background: #fff; min-height: 2.5rem; box-sizing: border-box; width: 100%; }
  .field.check { display: grid; grid-template-columns: auto 1fr; align-items: center; column-gap: .6rem; align-self: center; }
  .field.check .hint, .field.check .error { grid-column: 1 / -1; }
  .check input { width: 1.25rem; height: 1.25rem; margin: 0; }
  .units { grid-template-columns: 1fr; display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; }
  .units label { display: inline-flex; gap: .4rem; align-items: center; }
  .units .hint { flex-basis: 100%; }
  .unit, .hint { color: var(--muted); }
  .hint { margin: 0; font-size: .9rem; }
  .required { color: var(--bad); font-weight: 700; }
  .error { color: var(--bad); margin: 0; min-height: 1.4em; font-size: .95rem; font-weight: 500; }
  [aria-invalid="true"] { border-color: var(--bad) !important; border-width: 2px !important; }
  :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
  .summary { border: 2px solid var(--bad); border-radius: 12px; padding: .75rem 1rem; background: #fff; margin: 1rem 0; }
  .summary h2 { margin: 0 0 .25rem; font-size: 1.15rem; color: var(--bad); }
  .summary a { color: var(--bad); }
  .notice { border-left: 4px solid var(--accent); background: #fff; padding: .5rem .75rem; }
  button { padding: .65rem 1.4rem; border-radius: 10px; border: 0; background: var(--accent); color: #fff; font-weight: 600; cursor: pointer; }
  #status { min-height: 1.5rem; }
</style>
<script type="module" src="${ONBOARDING_SCRIPT_PATH}"></script>
</head>
<body>
<main>
  <h1>Client onboarding</h1>
  <p>What trainers and the AI coach know about a client. It holds <strong>no personal data</strong>:
     name, contact details and date of birth are kept encrypted, separately.</p>
  <p id="signin" class="notice" role="status" hidden></p>
  <form id="prompt-form" novalidate>
    <p>Fields marked <span class="required">*</span> are required.</p>
    <div id="summary" class="summary" tabindex="-1" hidden aria-labelledby="summary-title">
      <h2 id="summary-title">Please check the form</h2>
      <ul id="summary-list"></ul>
    </div>
    <fieldset>
      <legend>Client</legend>
      <div class="field"><label for="meta-client_id">Client <span class="required" aria-hidden="true">*</span></label>
        <p class="hint" id="meta-client_id-hint">Listed by alias</p>
        <select id="meta-client_id" data-path="${CLIENT_PATH}" data-label="Client" aria-required="true" aria-describedby="meta-client_id-hint"><option value="">Loading clients…</option></select>
        <p class="error" id="meta-client_id-error" data-error-for="${CLIENT_PATH}"></p></div>
    </fieldset>
    ${SECTIONS.map((s) => `<fieldset><legend>${s.legend}</legend>${s.units ? units : ''}${s.fields.map(field).join('')}</fieldset>`).join('\n    ')}
    <button type="submit">Save</button>
    <p id="status" role="status"></p>
  </form>
</main>
</body>
</html>`;
}

/**
 * The page's script (an ES module): takes the admin token from the URL fragment (and removes it
 * from the address bar), lists the clients by alias (`GET /api/admin/clients`), builds the master
 * prompt from the form in the schema's units, checks it with the standalone validator
 * (`@swan/schema/standalone`, served at {@link VALIDATOR_ASSET_PATH}) in the form's labels, shows
 * each problem next to its field and in a summary, and sends only a valid prompt to
 * `POST /api/clients/:clientId/master-prompt`.
 */
const script = `import { checkMasterPrompt, describeErrors, problemField } from '${VALIDATOR_ASSET_PATH}';

const KEY = 'swan.token';
const form = document.getElementById('prompt-form');
const statusLine = document.getElementById('status');
const signin = document.getElementById('signin');
const summary = document.getElementById('summary');
const summaryList = document.getElementById('summary-list');
const clientSelect = document.getElementById('meta-client_id');
const controls = Array.from(form.querySelectorAll('[data-path]'));
const byPath = new Map(controls.map(function (el) { return [el.dataset.path, el]; }));

const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.has('token')) {
  sessionStorage.setItem(KEY, fragment.get('token'));
  history.replaceState(null, '', location.pathname + location.search);
}
const token = sessionStorage.getItem(KEY) || '';

function metric() { return form.elements.units.value === 'metric'; }
function unitOf(el) { return metric() && el.dataset.metricUnit ? el.dataset.metricUnit : el.dataset.unit; }

/** The labels (and units) describeErrors words the problems with, as the form shows them now. */
function labels() {
  const map = {};
  controls.forEach(function (el) { map[el.dataset.path] = { label: el.dataset.label, unit: unitOf(el) }; });
  return map;
}

/** In metric mode the limits of converted fields are said in the unit typed, rounded to stay inside them. */
function messages() {
  if (!metric()) return {};
  const out = {};
  controls.filter(function (el) { return el.dataset.metricUnit; }).forEach(function (el) {
    const per = Number(el.dataset.perUnit);
    const unit = el.dataset.metricUnit;
    const round = function (v, up) { return (up ? Math.ceil(v * 10) : Math.floor(v * 10)) / 10; };
    out[el.dataset.path] = {
      type: function (c) { return c.label + ' must be a number of ' + unit; },
      minimum: function (c) { return c.label + ' must be at least ' + round(c.limit * per, true) + ' ' + unit; },
      maximum: function (c) { return c.label + ' must be at most ' + round(c.limit * per, false) + ' ' + unit; },
    };
  });
  return out;
}

function options() { return { labels: labels(), messages: messages() }; }

/** The number typed, in the schema's unit (whole inches for an integer field). */
function numberOf(el, raw) {
  const n = Number(raw.replace(',', '.'));
  if (raw === '' || !Number.isFinite(n)) return raw; // sent as typed: the validator names the problem
  if (!metric() || !el.dataset.metricUnit) return n;
  const value = n / Number(el.dataset.perUnit);
  return el.dataset.type === 'integer' ? Math.round(value) : Math.round(value * 10) / 10;
}

function valueOf(el) {
  if (el.type === 'checkbox') return el.checked;
  const raw = el.value.trim();
  if (raw === '') return undefined;
  return el.dataset.type ? numberOf(el, raw) : raw;
}

function setAt(doc, pointer, value) {
  const keys = pointer.slice(1).split('/');
  let node = doc;
  keys.slice(0, -1).forEach(function (k) { node = node[k] = node[k] || {}; });
  node[keys[keys.length - 1]] = value;
}

function build() {
  const now = new Date().toISOString();
  const doc = {
    schema_version: '3.0.0',
    meta: { prompt_version: '3.0.0', created_date: now, last_updated: now },
    client_profile: { basic_info: {}, training_tier: {} },
  };
  controls.forEach(function (el) {
    const v = valueOf(el);
    if (v !== undefined) setAt(doc, el.dataset.path, v);
  });
  return doc;
}

// The unit switch converts what is typed and says the unit next to each converted field.
form.querySelectorAll('input[name=units]').forEach(function (radio) {
  radio.addEventListener('change', function () {
    controls.filter(function (el) { return el.dataset.metricUnit; }).forEach(function (el) {
      const n = Number(el.value.trim().replace(',', '.'));
      if (el.value.trim() !== '' && Number.isFinite(n)) {
        const per = Number(el.dataset.perUnit);
        el.value = String(Math.round((metric() ? n * per : n / per) * 10) / 10);
      }
      document.querySelector('[data-unit-for="' + el.id + '"]').textContent = '(' + unitOf(el) + ')';
    });
  });
});

function describedBy(el, withError) {
  const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter(function (id) { return id && id !== el.id + '-error'; });
  if (withError) ids.push(el.id + '-error');
  if (ids.length) el.setAttribute('aria-describedby', ids.join(' ')); else el.removeAttribute('aria-describedby');
}

function clear() {
  controls.forEach(function (el) { el.removeAttribute('aria-invalid'); describedBy(el, false); });
  form.querySelectorAll('.error').forEach(function (p) { p.textContent = ''; });
  summaryList.textContent = '';
  summary.hidden = true;
}

/** Each problem next to its field and in the summary; focus on the first problem's field (else the summary). */
function show(problems) {
  clear();
  let first = null;
  problems.forEach(function (p) {
    const el = byPath.get(problemField(p));
    const item = document.createElement('li');
    if (el) {
      const slot = document.getElementById(el.id + '-error');
      slot.textContent = slot.textContent ? slot.textContent + ' ' + p.message : p.message;
      el.setAttribute('aria-invalid', 'true');
      describedBy(el, true);
      const link = document.createElement('a');
      link.href = '#' + el.id;
      link.textContent = p.message;
      link.addEventListener('click', function (event) { event.preventDefault(); el.focus(); });
      item.appendChild(link);
      first = first || el;
    } else {
      item.textContent = p.message;
    }
    summaryList.appendChild(item);
  });
  document.getElementById('summary-title').textContent = problems.length === 1 ? 'Please check 1 answer' : 'Please check ' + problems.length + ' answers';
  summary.hidden = false;
  (first || summary).focus();
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method: method,
    headers: Object.assign({ authorization: 'Bearer ' + token }, body ? { 'content-type': 'application/json' } : {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  return res.json();
}

const STATUS_NOTE = { restricted: ' (processing restricted)' };

async function loadClients() {
  if (!token) {
    signin.hidden = false;
    signin.textContent = 'You are not signed in. Open this page from the sign-in link you were given.';
    clientSelect.firstElementChild.textContent = 'Sign in to see clients';
    return;
  }
  const clients = [];
  let cursor = null;
  try {
    do {
      const body = await api('GET', '/api/admin/clients?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      if (!body.success) {
        signin.hidden = false;
        signin.textContent = body.error.code === 'FORBIDDEN' ? 'Only an admin can pick clients here.' : 'Your sign-in is not valid any more. Open the sign-in link again.';
        clientSelect.firstElementChild.textContent = 'No clients to show';
        return;
      }
      clients.push.apply(clients, body.clients);
      cursor = body.nextCursor;
    } while (cursor && clients.length < 2000);
  } catch (e) {
    clientSelect.firstElementChild.textContent = 'Could not load the clients';
    return;
  }
  clients.filter(function (c) { return c.status === 'active' || c.status === 'restricted'; }).forEach(function (c) {
    const option = document.createElement('option');
    option.value = c.clientId;
    option.textContent = c.alias + (STATUS_NOTE[c.status] || '');
    clientSelect.appendChild(option);
  });
  clientSelect.firstElementChild.textContent = 'Choose a client…';
}

form.addEventListener('submit', async function (event) {
  event.preventDefault();
  statusLine.textContent = '';
  const doc = build();
  const result = checkMasterPrompt(doc, options());
  if (!result.ok) {
    show(Array.isArray(result.details) ? result.details : [{ path: '', keyword: '', message: result.message }]);
    return;
  }
  clear();
  statusLine.textContent = 'Saving…';
  try {
    const body = await api('POST', '/api/clients/' + encodeURIComponent(doc.meta.client_id) + '/master-prompt', doc);
    if (body.success) {
      statusLine.textContent = 'Saved for ' + clientSelect.selectedOptions[0].textContent + ' (version ' + body.version + ').';
    } else {
      statusLine.textContent = 'Not saved.';
      show(Array.isArray(body.error.details) ? describeErrors(body.error.details, options()) : [{ path: '', keyword: '', message: body.error.message }]);
    }
  } catch (e) {
    statusLine.textContent = 'Could not reach the server. Nothing was saved.';
  }
});

loadClients();
`;

/**
 * `GET /onboarding` (public page), its script and the standalone validator as an ES module.
 * The page's Content-Security-Policy allows scripts from this origin only and no `unsafe-eval`:
 * the validator is precompiled Ajv code.
 *
 * @example
 * ```ts
 * return { routes: [...masterPromptRoutes({ service }), ...onboardingRoutes()] };
 * ```
 */
export function onboardingRoutes(): DocumentedRoute[] {
  const get = (path: string, summary: string, respond: () => SwanResponse): DocumentedRoute => ({
    method: 'GET', path, access: 'public', body: 'none', summary, tags: ['pages'],
    schema: { response: { content: { 'text/javascript; charset=utf-8': { type: 'string' } } } },
    handler: async () => respond(),
  });
  const javascript = (body: string): SwanResponse => ({
    status: 200,
    contentType: 'text/javascript; charset=utf-8',
    headers: { 'cache-control': 'public, max-age=300', 'x-content-type-options': 'nosniff' },
    body,
  });
  return [
    htmlPageRoute('/onboarding', page, { scripts: 'self', summary: 'Onboarding form: a client\'s master prompt, checked in the browser in the form\'s words before it is sent' }),
    get(ONBOARDING_SCRIPT_PATH, 'Script of the onboarding page', () => javascript(script)),
    get(VALIDATOR_ASSET_PATH, 'The precompiled master prompt v3 validator for browsers', () => javascript(browserValidatorSource)),
  ];
}
