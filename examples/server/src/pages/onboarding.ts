import { htmlPageRoute } from './html.js';
import type { DocumentedRoute, SwanResponse } from '@swan/core';
import { browserValidatorSource } from '@swan/schema';

/** Where the page loads the precompiled validator from (an ES module, no eval: CSP-safe). */
export const VALIDATOR_ASSET_PATH = '/assets/master-prompt-validator.js';
/** The page's own script. */
export const ONBOARDING_SCRIPT_PATH = '/assets/onboarding.js';

const option = (value: string, label = value) => `<option value="${value}">${label}</option>`;
const options = (values: readonly string[]) => values.map((v) => option(v)).join('');

/** One labelled input bound to a JSON pointer of the master prompt (`data-path`). */
function field(label: string, path: string, control: string, hint = ''): string {
  const id = path.slice(1).replace(/\//g, '-');
  return `<div class="field">
  <label for="${id}">${label}</label>
  ${control.replace('id="ID"', `id="${id}"`).replace('data-path="PATH"', `data-path="${path}"`)}
  ${hint ? `<small>${hint}</small>` : ''}
  <p class="error" data-error-for="${path}" aria-live="polite"></p>
</div>`;
}
const input = (type: string, extra = '') => `<input id="ID" data-path="PATH" type="${type}" ${extra}>`;
const number = (kind: 'integer' | 'number', extra = '') => `<input id="ID" data-path="PATH" data-type="${kind}" type="text" inputmode="decimal" ${extra}>`;
const select = (values: readonly string[], extra = '') => `<select id="ID" data-path="PATH" ${extra}><option value="">—</option>${options(values)}</select>`;

function page(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Client onboarding — master prompt</title>
<style nonce="${nonce}">
  body { font-family: system-ui, sans-serif; margin: 0; background: #0a0a1a; color: #e8ecff; }
  main { max-width: 880px; margin: 0 auto; padding: 2rem 1rem; }
  fieldset { border: 1px solid rgba(120,160,255,.3); border-radius: 12px; margin: 1rem 0; padding: 1rem; display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: .75rem; }
  legend { padding: 0 .5rem; font-weight: 600; }
  .field { display: flex; flex-direction: column; gap: .25rem; }
  input, select { padding: .45rem; border-radius: 8px; border: 1px solid #445; background: #111; color: #eee; }
  [aria-invalid="true"] { border-color: #ff5c7a; }
  small { color: #99a; }
  .error { color: #ff8fa3; margin: 0; min-height: 1.1em; font-size: .9rem; }
  #problems { color: #ff8fa3; }
  #status { min-height: 1.5rem; }
  button { padding: .6rem 1.2rem; border-radius: 10px; border: 0; background: #00c8ff; color: #001; font-weight: 600; cursor: pointer; }
</style>
<script type="module" src="${ONBOARDING_SCRIPT_PATH}"></script>
</head>
<body>
<main>
  <h1>Client onboarding</h1>
  <p>The master prompt is what trainers and the AI coach see. It holds <strong>no personal data</strong>:
     name, email, phone, date of birth and address are stored encrypted, separately. The form checks
     everything in your browser with the same rules and messages as the server.</p>
  <form id="prompt-form" novalidate>
    <fieldset>
      <legend>Access</legend>
      ${field('Access token', '/token', '<input id="ID" name="token" type="password" autocomplete="off">', 'An admin or assigned trainer token; kept in this browser only')}
      ${field('Client ID', '/meta/client_id', input('text', 'autocomplete="off" spellcheck="false"'), 'The client id (UUID) from registration')}
    </fieldset>
    <fieldset>
      <legend>Record</legend>
      ${field('Confidentiality', '/meta/confidentiality_level', select(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']))}
      ${field('Keep for (years)', '/meta/data_retention_years', number('integer', 'value="7"'))}
      ${field('HIPAA safeguards', '/meta/hipaa_compliant', '<input id="ID" data-path="PATH" type="checkbox" checked>')}
    </fieldset>
    <fieldset>
      <legend>Body metrics</legend>
      ${field('Age', '/client_profile/basic_info/age', number('integer'), 'Age only — never the date of birth')}
      ${field('Gender', '/client_profile/basic_info/gender', select(['Male', 'Female', 'Non-binary', 'Prefer not to say']))}
      ${field('Height (inches)', '/client_profile/basic_info/height_inches', number('integer'))}
      ${field('Weight (lbs)', '/client_profile/basic_info/weight_lbs', number('number'))}
      ${field('Body fat (%)', '/client_profile/basic_info/body_fat_percentage', number('number'))}
      ${field('BMI', '/client_profile/basic_info/bmi', number('number'))}
    </fieldset>
    <fieldset>
      <legend>Package</legend>
      ${field('Tier', '/client_profile/training_tier/tier', select(['Tier 1', 'Tier 2', 'Tier 3']))}
      ${field('Tier name', '/client_profile/training_tier/tier_name', input('text'))}
      ${field('Session rate (USD)', '/client_profile/training_tier/session_rate_usd', number('number'))}
      ${field('Sessions per week', '/client_profile/training_tier/sessions_per_week', number('integer'))}
    </fieldset>
    <fieldset>
      <legend>Goals and preferences</legend>
      ${field('Primary goal', '/client_profile/training_goals/primary_goal', select(['Weight loss', 'Muscle gain', 'Strength', 'Endurance', 'Mobility', 'Rehabilitation', 'Athletic performance', 'General health', 'Stress reduction']))}
      ${field('Years of training', '/client_profile/training_history/years_training_experience', number('integer'))}
      ${field('Preferred time', '/client_profile/session_preferences/preferred_time_of_day', select(['Early morning', 'Morning', 'Midday', 'Afternoon', 'Evening']))}
      ${field('Session length (minutes)', '/client_profile/session_preferences/session_length_minutes', number('integer'))}
    </fieldset>
    <div id="problems" role="alert"></div>
    <button type="submit">Save master prompt</button>
    <p id="status" role="status"></p>
  </form>
</main>
</body>
</html>`;
}

/**
 * The page's script (an ES module): builds the master prompt from the form, checks it with the
 * standalone validator (`@swan/schema/standalone`, served at {@link VALIDATOR_ASSET_PATH}), shows
 * each problem next to its field, and only sends a valid prompt to
 * `POST /api/clients/:clientId/master-prompt` with the pasted bearer token.
 */
const script = `import { checkMasterPrompt } from '${VALIDATOR_ASSET_PATH}';

const KEY = 'swan.token';
const form = document.getElementById('prompt-form');
const tokenInput = form.elements.token;
const statusLine = document.getElementById('status');
const summary = document.getElementById('problems');

const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get('token')) {
  localStorage.setItem(KEY, fragment.get('token'));
  history.replaceState(null, '', location.pathname + location.search);
}
tokenInput.value = localStorage.getItem(KEY) || '';

function valueOf(el) {
  if (el.type === 'checkbox') return el.checked;
  const raw = el.value.trim();
  if (raw === '') return undefined;
  if (el.dataset.type === 'integer' || el.dataset.type === 'number') {
    const n = Number(raw);
    return Number.isNaN(n) ? raw : n; // a non-number is sent as typed: the validator names the problem
  }
  return raw;
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
  form.querySelectorAll('[data-path]').forEach(function (el) {
    const v = valueOf(el);
    if (v !== undefined) setAt(doc, el.dataset.path, v);
  });
  return doc;
}

function clear() {
  form.querySelectorAll('.error').forEach(function (p) { p.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach(function (el) { el.removeAttribute('aria-invalid'); });
  summary.textContent = '';
}

function show(problems, fallback) {
  clear();
  const list = document.createElement('ul');
  (problems.length ? problems : [{ message: fallback, path: '' }]).forEach(function (p) {
    const target = p.property && (p.keyword === 'required' || p.keyword === 'additionalProperties') ? p.path + '/' + p.property : p.path;
    const slot = form.querySelector('[data-error-for="' + CSS.escape(target) + '"]');
    if (slot) {
      slot.textContent = p.message;
      const el = form.querySelector('[data-path="' + CSS.escape(target) + '"]');
      if (el) el.setAttribute('aria-invalid', 'true');
    }
    const item = document.createElement('li');
    item.textContent = p.message;
    list.appendChild(item);
  });
  summary.appendChild(list);
}

form.addEventListener('submit', async function (event) {
  event.preventDefault();
  statusLine.textContent = '';
  const doc = build();
  const result = checkMasterPrompt(doc);
  if (!result.ok) {
    show(Array.isArray(result.details) ? result.details : [], result.message);
    statusLine.textContent = 'Please fix the highlighted fields.';
    return;
  }
  clear();
  const token = tokenInput.value.trim();
  if (token) localStorage.setItem(KEY, token);
  statusLine.textContent = 'Saving…';
  try {
    const res = await fetch('/api/clients/' + encodeURIComponent(doc.meta.client_id) + '/master-prompt', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token },
      body: JSON.stringify(doc),
    });
    const body = await res.json();
    if (body.success) {
      statusLine.textContent = 'Stored version ' + body.version + '.';
    } else {
      show(Array.isArray(body.error.details) ? body.error.details : [], body.error.message);
      statusLine.textContent = 'Not saved (' + body.error.code + ').';
    }
  } catch (e) {
    statusLine.textContent = 'Could not reach the server.';
  }
});
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
    htmlPageRoute('/onboarding', page, { scripts: 'self', summary: 'Onboarding form: a master prompt checked in the browser before it is sent' }),
    get(ONBOARDING_SCRIPT_PATH, 'Script of the onboarding page', () => javascript(script)),
    get(VALIDATOR_ASSET_PATH, 'The precompiled master prompt v3 validator for browsers', () => javascript(browserValidatorSource)),
  ];
}
