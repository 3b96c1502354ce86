import { htmlPageRoute } from './html.js';
import { escapeHtml, renderPage, SESSION_SCRIPT } from './layout.js';
import type { DocumentedRoute, SwanResponse } from '@swan/core';
import { browserValidatorSource, masterPromptSchema } from '@swan/schema';

/** Where the page loads the precompiled validator from (an ES module, no eval: CSP-safe). */
export const VALIDATOR_ASSET_PATH = '/assets/master-prompt-validator.js';
/** The page's own script. */
export const ONBOARDING_SCRIPT_PATH = '/assets/onboarding.js';
/**
 * The pages' session script (`SESSION_SCRIPT`) as a file: the page allows scripts from this origin
 * only (the validator is a module it imports), so the session cannot be an inline script.
 */
export const SESSION_SCRIPT_PATH = '/assets/onboarding-session.js';

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
  const common = `id="${id}" data-path="${field.path}" data-label="${escapeHtml(field.label)}"${field.unit ? ` data-unit="${field.unit}"` : ''}${
    field.metric ? ` data-metric-unit="${field.metric.unit}" data-per-unit="${field.metric.perUnit}"` : ''}${required ? ' aria-required="true"' : ''}${
    field.hint ? ` aria-describedby="${id}-hint"` : ''}`;
  if (node.type === 'boolean') return `<input type="checkbox" ${common}${field.value === 'true' ? ' checked' : ''}>`;
  if (node.enum) {
    return `<select ${common}><option value="">${required ? 'Choose…' : 'Not given'}</option>${node.enum.map((v) => `<option>${escapeHtml(v)}</option>`).join('')}</select>`;
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
  const error = `<p class="error" id="${id}-error"></p>`;
  if (node.type === 'boolean') {
    return `<div class="field check">${control(f, id, required, node)}<label for="${id}">${escapeHtml(f.label)}${marker}</label>${hint}${error}</div>`;
  }
  return `<div class="field"><label for="${id}">${escapeHtml(f.label)}${unit}${marker}</label>${control(f, id, required, node)}${hint}${error}</div>`;
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

/** The page's own rules, after the shared stylesheet. */
const STYLE = `
.onboarding { max-width: 860px; }
.onboarding fieldset { border: 1px solid var(--border); border-radius: 12px; margin: 0 0 1.25rem; padding: 1rem; background: var(--surface);
  display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: .25rem 1rem; min-width: 0; }
.onboarding legend { padding: 0 .4rem; font-weight: 700; }
.onboarding .field.check { display: grid; grid-template-columns: auto 1fr; align-items: center; column-gap: .6rem; align-self: center; }
.onboarding .field.check > .hint, .onboarding .field.check > .error { grid-column: 1 / -1; }
.onboarding .units { grid-column: 1 / -1; display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; border: 0; padding: 0 0 .75rem; margin: 0; background: none; }
.onboarding .units legend { float: left; padding: 0; margin-right: .5rem; }
.onboarding .units label { display: inline-flex; align-items: center; gap: .45rem; font-weight: 400; }
.onboarding .units .hint { flex-basis: 100%; margin: 0; }
.onboarding .unit { color: var(--muted); font-weight: 400; }
.onboarding .required { color: var(--danger); font-weight: 700; }
.onboarding .field .hint, .onboarding .field .error { margin: 0; }
.onboarding .field .error { min-height: 1.5em; font-weight: 600; }
.onboarding [aria-invalid="true"] { border-width: 2px; }
.onboarding .summary { border: 2px solid var(--danger); border-radius: 12px; padding: 1rem; margin: 0 0 1.25rem; background: var(--surface); }
.onboarding .summary h2 { color: var(--danger); }
.onboarding .summary ul { margin: 0; padding-left: 1.25rem; }
.onboarding .summary a { color: var(--danger); }
.onboarding .actions { display: flex; flex-wrap: wrap; align-items: center; gap: .75rem 1rem; }
.onboarding #status { margin: 0; }
`;

const UNITS = `<fieldset class="units"><legend>Units</legend>
      <label><input type="radio" id="units-imperial" name="units" value="imperial" checked> Imperial (inches, lbs)</label>
      <label><input type="radio" id="units-metric" name="units" value="metric"> Metric (cm, kg)</label>
      <p class="hint">Stored in inches and pounds either way.</p>
    </fieldset>`;

const MAIN = `<div class="onboarding">
  <h1>Client onboarding</h1>
  <p class="lede">What trainers and the AI coach know about a client. It holds <strong>no personal data</strong>:
     name, contact details and date of birth are kept encrypted, separately.</p>
  <div id="signin" class="notice warning" role="status" hidden></div>
  <form id="prompt-form" novalidate>
    <p>Fields marked <span class="required">*</span> are required.</p>
    <div id="summary" class="summary" role="region" tabindex="-1" hidden aria-labelledby="summary-title">
      <h2 id="summary-title">Please check the form</h2>
      <ul id="summary-list"></ul>
    </div>
    <fieldset>
      <legend>Client</legend>
      <div class="field"><label for="meta-client_id">Client <span class="required" aria-hidden="true">*</span></label>
        <select id="meta-client_id" data-path="${CLIENT_PATH}" data-label="Client" aria-required="true" aria-describedby="meta-client_id-hint"><option value="">Loading clients…</option></select>
        <p class="hint" id="meta-client_id-hint">Listed by alias</p>
        <p class="error" id="meta-client_id-error"></p></div>
    </fieldset>
    ${SECTIONS.map((s) => `<fieldset><legend>${s.legend}</legend>${s.units ? UNITS : ''}${s.fields.map(field).join('')}</fieldset>`).join('\n    ')}
    <div class="actions"><button type="submit" id="save">Save</button><p id="status" role="status"></p></div>
  </form>
</div>`;

const page = (nonce: string) => renderPage({
  nonce,
  title: 'Client onboarding — SwanStudios',
  style: STYLE,
  main: MAIN,
  head: `<script src="${SESSION_SCRIPT_PATH}"></script>\n<script type="module" src="${ONBOARDING_SCRIPT_PATH}"></script>`,
});

/**
 * The page's script (an ES module), run after the session script took the token from the URL
 * fragment and removed it from the address bar: lists the clients by alias (`GET /api/admin/clients`), builds the master
 * prompt from the form in the schema's units, checks it with the standalone validator
 * (`@swan/schema/standalone`, served at {@link VALIDATOR_ASSET_PATH}) in the form's labels, shows
 * each problem next to its field and in a summary, and sends only a valid prompt to
 * `POST /api/clients/:clientId/master-prompt`.
 */
const script = `import { checkMasterPrompt, describeErrors, problemField } from '${VALIDATOR_ASSET_PATH}';

const form = document.getElementById('prompt-form');
const statusLine = document.getElementById('status');
const signin = document.getElementById('signin');
const summary = document.getElementById('summary');
const summaryList = document.getElementById('summary-list');
const clientSelect = document.getElementById('meta-client_id');
const controls = Array.from(form.querySelectorAll('[data-path]'));
const byPath = new Map(controls.map(function (el) { return [el.dataset.path, el]; }));

swanSession.showIn(document.getElementById('session'));

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
  const n = Number(raw);
  if (!Number.isFinite(n)) return raw; // sent as typed: the validator names the problem
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
      const n = Number(el.value.trim());
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

/** Each problem next to its field and in the summary, in the form's order; focus on the first problem's field (else the summary). */
function show(problems) {
  clear();
  let first = null;
  const place = function (p) { const el = byPath.get(problemField(p)); return el ? controls.indexOf(el) : controls.length; };
  problems.slice().sort(function (a, b) { return place(a) - place(b); }).forEach(function (p) {
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

const STATUS_NOTE = { restricted: ' (processing restricted)' };

async function loadClients() {
  if (!swanSession.token()) {
    signin.hidden = false;
    signin.textContent = 'You are not signed in. Open this page from the sign-in link you were given.';
    clientSelect.firstElementChild.textContent = 'Sign in to see clients';
    return;
  }
  const clients = [];
  let cursor = null;
  do {
    const body = (await swanSession.api('GET', '/api/admin/clients?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''))).body;
    if (!body.success) {
      signin.hidden = false;
      signin.textContent = body.error.code === 'FORBIDDEN' ? 'Only an administrator can pick clients here.'
        : body.error.code === 'UNAUTHENTICATED' ? 'Your sign-in is not valid any more. Open the sign-in link again.' : body.error.message;
      clientSelect.firstElementChild.textContent = 'No clients to show';
      return;
    }
    clients.push.apply(clients, body.clients);
    cursor = body.nextCursor;
  } while (cursor && clients.length < 2000);
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
  const body = (await swanSession.api('POST', '/api/clients/' + encodeURIComponent(doc.meta.client_id) + '/master-prompt', doc)).body;
  if (body.success) {
    statusLine.textContent = 'Saved for ' + clientSelect.selectedOptions[0].textContent + ' (version ' + body.version + ').';
  } else {
    statusLine.textContent = 'Not saved.';
    show(Array.isArray(body.error.details) ? describeErrors(body.error.details, options()) : [{ path: '', keyword: '', message: body.error.message }]);
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
    get(SESSION_SCRIPT_PATH, 'The pages\' session script (token from the URL fragment), for the onboarding page', () => javascript(SESSION_SCRIPT)),
    get(VALIDATOR_ASSET_PATH, 'The precompiled master prompt v3 validator for browsers', () => javascript(browserValidatorSource)),
  ];
}
