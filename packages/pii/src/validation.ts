import { errors, jsonTextProblem, SwanError, textProblem } from '@swan/core';
import { normalizeEmail } from './blind-index.js';

/** One problem with the input: where and what, never the value itself. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** `VALIDATION_FAILED` with field paths only, so PII never echoes back in errors or logs. */
export function validationFailed(problems: FieldProblem[], message = 'The request is invalid'): SwanError {
  return errors.validation(message, problems);
}

/** The PII part of a client, as API.md names it. */
export interface ClientPII {
  full_name: string;
  preferred_name?: string | null;
  date_of_birth: string;
  email: string;
  phone_number?: string | null;
  blood_type?: string | null;
  emergency_contact: { name?: string; relationship?: string; phone?: string; [k: string]: unknown };
  address?: { street?: string; city?: string; state?: string; zip?: string; [k: string]: unknown } | null;
}

/** The training part (the spec's column names); no PII. */
export interface ClientTrainingInput {
  gender?: string | null;
  height_inches?: number | null;
  weight_lbs?: number | null;
  body_fat_percentage?: number | null;
  bmi?: number | null;
  training_goals?: unknown[];
  training_start_date?: string | null;
  years_training_experience?: number | null;
  injury_history?: unknown[];
  movement_screen?: Record<string, unknown>;
  current_medications?: unknown[];
  supplements?: unknown[];
  allergies?: unknown[];
  wearable_device?: string | null;
  wearable_integration_active?: boolean;
  training_tier?: 'tier_1' | 'tier_2' | 'tier_3' | null;
  session_rate_usd?: number | null;
}

/** Body of `createClient` / `POST /api/clients`. */
export interface CreateClientInput {
  pii: ClientPII;
  training?: ClientTrainingInput;
}

type Kind = 'int' | 'num' | 'text' | 'date' | 'bool' | 'array' | 'object';
/** Training columns: kind, SQL cast and bounds (numeric(p,s) limits of the table). */
export const TRAINING_COLUMNS: Record<keyof ClientTrainingInput, { kind: Kind; cast: string; min?: number; max?: number; values?: string[] }> = {
  gender: { kind: 'text', cast: 'varchar', max: 20 },
  height_inches: { kind: 'int', cast: 'int', min: 1, max: 120 },
  weight_lbs: { kind: 'num', cast: 'numeric', min: 0, max: 999.99 },
  body_fat_percentage: { kind: 'num', cast: 'numeric', min: 0, max: 99.99 },
  bmi: { kind: 'num', cast: 'numeric', min: 0, max: 99.99 },
  training_goals: { kind: 'array', cast: 'jsonb' },
  training_start_date: { kind: 'date', cast: 'date' },
  years_training_experience: { kind: 'int', cast: 'int', min: 0, max: 100 },
  injury_history: { kind: 'array', cast: 'jsonb' },
  movement_screen: { kind: 'object', cast: 'jsonb' },
  current_medications: { kind: 'array', cast: 'jsonb' },
  supplements: { kind: 'array', cast: 'jsonb' },
  allergies: { kind: 'array', cast: 'jsonb' },
  wearable_device: { kind: 'text', cast: 'varchar', max: 50 },
  wearable_integration_active: { kind: 'bool', cast: 'boolean' },
  training_tier: { kind: 'text', cast: 'varchar', values: ['tier_1', 'tier_2', 'tier_3'] },
  session_rate_usd: { kind: 'num', cast: 'numeric', min: 0, max: 99999.99 },
};

const BLOOD_TYPES = ['A+', 'A-', 'B+', 'B-', 'AB+', 'AB-', 'O+', 'O-'];
const PII_KEYS = ['full_name', 'preferred_name', 'date_of_birth', 'email', 'phone_number', 'blood_type', 'emergency_contact', 'address'];
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

// Names, addresses and training fields are single-line text: core's one text check refuses NUL,
// control characters and unpaired surrogates, which PostgreSQL can't store or would store altered.
/** Not a single-line string of at most `max` characters. */
const badText = (v: unknown, max: number): boolean => textProblem(v, { max }) !== undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A real calendar date `YYYY-MM-DD`, else null. */
export function parseDate(v: unknown): Date | null {
  if (typeof v !== 'string') return null;
  const m = DATE.exec(v);
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === v ? d : null;
}

/**
 * Whole years between a date of birth and `now` (UTC calendar).
 *
 * @example
 * ```ts
 * ageOn('1990-06-15', new Date('2024-06-14')); // 33
 * ```
 */
export function ageOn(dateOfBirth: string, now: Date): number {
  const d = parseDate(dateOfBirth)!;
  let age = now.getUTCFullYear() - d.getUTCFullYear();
  const beforeBirthday = now.getUTCMonth() < d.getUTCMonth() || (now.getUTCMonth() === d.getUTCMonth() && now.getUTCDate() < d.getUTCDate());
  if (beforeBirthday) age -= 1;
  return age;
}

function stringFields(v: unknown, path: string, problems: FieldProblem[], required: string[] = []) {
  if (!isObject(v)) return problems.push({ path, message: 'must be an object' });
  for (const [k, x] of Object.entries(v)) {
    if (badText(x, 500)) problems.push({ path: `${path}.${k}`, message: 'must be a string of at most 500 characters, without control characters' });
  }
  for (const k of required) if (typeof v[k] !== 'string' || (v[k] as string).trim() === '') problems.push({ path: `${path}.${k}`, message: 'is required' });
}

function optionalString(v: unknown, path: string, max: number, problems: FieldProblem[]) {
  if (v !== undefined && v !== null && badText(v, max)) {
    problems.push({ path, message: `must be a string of at most ${max} characters, without control characters` });
  }
}

/**
 * Checks a create body (API.md's shape); throws `VALIDATION_FAILED` listing paths, never values.
 * `isPhone` decides whether a phone number is valid (the blind index's E.164 parser).
 *
 * @example
 * ```ts
 * const input = validateCreateClient(req.body, new Date(), (v) => normalizePhone(v) !== null);
 * ```
 */
export function validateCreateClient(body: unknown, now: Date, isPhone: (v: string) => boolean): CreateClientInput {
  const problems: FieldProblem[] = [];
  if (!isObject(body)) throw validationFailed([{ path: '', message: 'must be an object with pii and training' }]);
  const pii = body.pii;
  const training = body.training ?? {};
  for (const k of Object.keys(body)) if (k !== 'pii' && k !== 'training') problems.push({ path: k, message: 'is not allowed' });
  if (!isObject(pii)) problems.push({ path: 'pii', message: 'is required' });
  else piiProblems(pii, 'pii', now, isPhone, false, problems);
  trainingProblems(training, 'training', problems);
  if (problems.length) throw validationFailed(problems, 'The client is invalid');
  return { pii: pii as unknown as ClientPII, training: training as ClientTrainingInput };
}

/** PII changes of a rectification: any subset of the PII fields; optional ones may be `null` to clear them. */
export type PiiChanges = Partial<ClientPII>;

/**
 * Checks the changes of a PII rectification with the create checks: every field given must be
 * valid, required ones can't be cleared, and at least one field is needed. Throws
 * `VALIDATION_FAILED` with paths (`email`, `address.city`), never values.
 *
 * @example
 * ```ts
 * const changes = validatePiiChanges({ email: 'new@example.com' }, new Date(), (v) => normalizePhone(v) !== null);
 * ```
 */
export function validatePiiChanges(body: unknown, now: Date, isPhone: (v: string) => boolean): PiiChanges {
  if (!isObject(body)) throw validationFailed([{ path: '', message: 'must be an object of PII fields' }]);
  const problems: FieldProblem[] = [];
  if (Object.keys(body).length === 0) problems.push({ path: '', message: 'must change at least one field' });
  piiProblems(body, '', now, isPhone, true, problems);
  if (problems.length) throw validationFailed(problems, 'The changes are invalid');
  return body as PiiChanges;
}

/**
 * Checks the changes of a training-data rectification with the create checks (at least one field).
 *
 * @example
 * ```ts
 * const changes = validateTrainingChanges({ weight_lbs: 151.2 });
 * ```
 */
export function validateTrainingChanges(body: unknown): ClientTrainingInput {
  if (!isObject(body)) throw validationFailed([{ path: '', message: 'must be an object of training fields' }]);
  const problems: FieldProblem[] = [];
  if (Object.keys(body).length === 0) problems.push({ path: '', message: 'must change at least one field' });
  trainingProblems(body, '', problems);
  if (problems.length) throw validationFailed(problems, 'The changes are invalid');
  return body as ClientTrainingInput;
}

/** `prefix.name`, or `name` at the top level. */
const at = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

/** The PII checks of a create (`partial`: only the fields present, required ones not clearable). */
function piiProblems(pii: Record<string, unknown>, prefix: string, now: Date, isPhone: (v: string) => boolean, partial: boolean, problems: FieldProblem[]) {
  const has = (k: string) => !partial || Object.hasOwn(pii, k);
  for (const k of Object.keys(pii)) if (!PII_KEYS.includes(k)) problems.push({ path: at(prefix, k), message: 'is not allowed' });
  if (has('full_name') && (badText(pii.full_name, 200) || (pii.full_name as string).trim() === '')) {
    problems.push({ path: at(prefix, 'full_name'), message: 'is required (at most 200 characters, without control characters)' });
  }
  optionalString(pii.preferred_name, at(prefix, 'preferred_name'), 200, problems);
  if (has('date_of_birth')) {
    const dob = parseDate(pii.date_of_birth);
    if (!dob) problems.push({ path: at(prefix, 'date_of_birth'), message: 'must be a date YYYY-MM-DD' });
    else if (dob > now || ageOn(pii.date_of_birth as string, now) > 150) problems.push({ path: at(prefix, 'date_of_birth'), message: 'must be in the past and at most 150 years ago' });
  }
  if (has('email') && (typeof pii.email !== 'string' || normalizeEmail(pii.email) === null)) problems.push({ path: at(prefix, 'email'), message: 'must be an email address' });
  if (pii.phone_number !== undefined && pii.phone_number !== null && (typeof pii.phone_number !== 'string' || !isPhone(pii.phone_number))) {
    problems.push({ path: at(prefix, 'phone_number'), message: 'must be a valid phone number (E.164, or national in the default country)' });
  }
  if (pii.blood_type !== undefined && pii.blood_type !== null && !BLOOD_TYPES.includes(pii.blood_type as string)) problems.push({ path: at(prefix, 'blood_type'), message: `must be one of ${BLOOD_TYPES.join(', ')}` });
  if (has('emergency_contact')) stringFields(pii.emergency_contact, at(prefix, 'emergency_contact'), problems);
  if (pii.address !== undefined && pii.address !== null) stringFields(pii.address, at(prefix, 'address'), problems);
}

/** The training checks of a create. */
function trainingProblems(training: unknown, prefix: string, problems: FieldProblem[]) {
  if (!isObject(training)) {
    problems.push({ path: prefix || '', message: 'must be an object' });
    return;
  }
  for (const [k, v] of Object.entries(training)) {
    const col = TRAINING_COLUMNS[k as keyof ClientTrainingInput];
    const path = at(prefix, k);
    if (!col) { problems.push({ path, message: 'is not a training field' }); continue; }
    if (v === null || v === undefined) continue;
    const bad = (message: string) => problems.push({ path, message });
    switch (col.kind) {
      case 'int': if (!Number.isInteger(v) || (v as number) < col.min! || (v as number) > col.max!) bad(`must be an integer from ${col.min} to ${col.max}`); break;
      case 'num': if (typeof v !== 'number' || !Number.isFinite(v) || v < col.min! || v > col.max!) bad(`must be a number from ${col.min} to ${col.max}`); break;
      case 'text':
        if (badText(v, col.max ?? Infinity)) bad(`must be a string of at most ${col.max ?? 20} characters, without control characters`);
        else if (col.values && !col.values.includes(v as string)) bad(`must be one of ${col.values.join(', ')}`);
        break;
      case 'date': if (!parseDate(v)) bad('must be a date YYYY-MM-DD'); break;
      case 'bool': if (typeof v !== 'boolean') bad('must be true or false'); break;
      case 'array': if (!Array.isArray(v)) bad('must be an array'); else if (jsonTextProblem(v)) bad('must not contain NUL characters or unpaired surrogates'); break;
      case 'object': if (!isObject(v)) bad('must be an object'); else if (jsonTextProblem(v)) bad('must not contain NUL characters or unpaired surrogates'); break;
    }
  }
}

/** A required, trimmed reason (1–500 characters) for audited actions. */
export function requireReason(reason: unknown): string {
  if (typeof reason !== 'string' || reason.trim() === '') {
    throw validationFailed([{ path: 'reason', message: 'is required (1 to 500 characters)' }], 'A reason is required');
  }
  const problem = textProblem(reason, { max: 500, multiline: true });
  if (problem) throw validationFailed([{ path: 'reason', message: problem }], 'Malformed reason');
  return reason.trim();
}
