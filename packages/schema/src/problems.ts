/**
 * Turns Ajv errors into problems a person understands. Pure: no Ajv import, so the standalone
 * (browser) validator shows exactly the messages the server sends.
 */

/** One thing wrong with a submitted master prompt (an entry of `SCHEMA_VALIDATION_FAILED` details). */
export interface Problem {
  /** JSON pointer to the offending value (the parent object for `required` / `additionalProperties`). */
  path: string;
  /** Same as `path`, under Ajv's name, for tools that read Ajv errors. */
  instancePath: string;
  /** A sentence, e.g. "age must be at least 13". Never contains the submitted value. */
  message: string;
  /** The JSON Schema keyword that failed (`minimum`, `enum`, `required`, `additionalProperties`, …). */
  keyword: string;
  /** What would have been accepted: enum values, or the limit, e.g. `{ minimum: 13 }`. */
  allowed?: unknown;
  /** The missing or unexpected property, for `required` / `additionalProperties`. */
  property?: string;
}

/** The part of an Ajv `ErrorObject` we read (describing the subset keeps this file Ajv-free). */
export interface AjvErrorLike {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
}

/**
 * Field names that are personal data. Sent inside a master prompt they are rejected with a
 * message pointing to the PII package; compared case- and separator-insensitively
 * (`dateOfBirth`, `date-of-birth` and `date_of_birth` are the same).
 */
export const PII_FIELD_NAMES: readonly string[] = [
  'name', 'full_name', 'first_name', 'last_name', 'middle_name', 'preferred_name', 'legal_name', 'surname',
  'email', 'email_address', 'phone', 'phone_number', 'mobile', 'mobile_number', 'telephone',
  'date_of_birth', 'dob', 'birth_date', 'birthdate', 'birthday',
  'address', 'street_address', 'home_address', 'street', 'city', 'postal_code', 'zip', 'zip_code',
  'ssn', 'social_security_number', 'national_id', 'passport_number', 'drivers_license',
  'emergency_contact', 'blood_type', 'insurance_number', 'medical_record_number', 'ip_address',
];

const normalizeName = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');
const PII_NORMALIZED = new Set(PII_FIELD_NAMES.map(normalizeName));

/**
 * True when a property name is personal data (see {@link PII_FIELD_NAMES}).
 *
 * @example
 * ```ts
 * isPiiFieldName('dateOfBirth'); // true
 * isPiiFieldName('age');         // false
 * ```
 */
export function isPiiFieldName(name: string): boolean {
  return PII_NORMALIZED.has(normalizeName(name));
}

/** Message for a field that carries PII: it never includes the value. */
export const PII_MESSAGE = 'is personal data and is not allowed in the master prompt: PII belongs to the PII package (@swan/pii)';

const VERSION_PATTERN = '^3\\.\\d+\\.\\d+$';
const TEXT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$';

/** English words for the `format` values the schema uses. */
export const FORMATS: Record<string, string> = {
  uuid: 'a UUID',
  'date-time': 'a date and time in ISO 8601 format with a time zone, e.g. 2025-11-04T09:00:00Z',
  date: 'a date in YYYY-MM-DD format',
};

/** English words for JSON types. */
export const TYPES: Record<string, string> = {
  integer: 'a whole number', number: 'a number', string: 'a string', boolean: 'true or false',
  object: 'an object', array: 'a list', null: 'null',
};

const LIMITS: Record<string, string> = {
  minimum: 'at least', maximum: 'at most', exclusiveMinimum: 'greater than', exclusiveMaximum: 'less than',
};

/** Property names come from the request: keep them short in messages. */
function safeName(name: unknown): string {
  const s = String(name);
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

/**
 * Stands in for a submitted property name that looks like personal data (see {@link looksLikePersonalData}),
 * in both `property` and `message` of the problem.
 *
 * @example
 * ```ts
 * masterPromptProblems({ ...prompt, meta: { ...prompt.meta, 'dana@example.org': 1 } })[0].property; // '[redacted field name]'
 * ```
 */
export const REDACTED_FIELD_NAME = '[redacted field name]';

const EMAIL_LIKE = /[^\s@]@[^\s@]+\.[^\s@]/;
const DATE_LIKE = /\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}/;

/**
 * True when submitted text (a property name, a version string) looks like personal data itself:
 * an e-mail address, a phone number or another long number (7 digits or more in all: phone,
 * card, account or ID numbers), or a date (a date of birth). Such text is never echoed in
 * messages or details.
 *
 * @example
 * ```ts
 * looksLikePersonalData('dana@example.org'); // true
 * looksLikePersonalData('+1 (555) 555-0123'); // true
 * looksLikePersonalData('favourite_colour');  // false
 * ```
 */
export function looksLikePersonalData(text: string): boolean {
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57 && ++digits >= 7) return true;
  }
  return EMAIL_LIKE.test(text) || DATE_LIKE.test(text);
}

function segmentsOf(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** "age", "injury_history[0].status", or "the master prompt" for the root. */
export function labelOf(pointer: string): string {
  let label = '';
  for (const segment of segmentsOf(pointer)) {
    if (/^\d+$/.test(segment)) label = `${label}[${segment}]`;
    else label = label.endsWith(']') ? `${label}.${segment}` : segment;
  }
  return label === '' ? 'the master prompt' : safeName(label);
}

const num = (v: unknown) => (typeof v === 'number' ? v : Number(v));

/**
 * The English sentence and the problem's `allowed` / `property` for one Ajv error; internal.
 * With `own`, the field's label (for `required`: the missing property's) and unit replace the schema name.
 */
export function describeError(error: AjvErrorLike, own?: { label: string; unit?: string }): Omit<Problem, 'path' | 'instancePath' | 'keyword'> {
  const label = own?.label ?? labelOf(error.instancePath);
  const unit = own?.unit ? ` ${own.unit}` : '';
  const p = error.params ?? {};
  switch (error.keyword) {
    case 'required': {
      const property = safeName(p.missingProperty);
      return { property, message: own ? `${label} is required` : error.instancePath === '' ? `${property} is required` : `${property} is required in ${label}` };
    }
    case 'additionalProperties': {
      const submitted = String(p.additionalProperty);
      if (looksLikePersonalData(submitted)) {
        return { property: REDACTED_FIELD_NAME, message: `${REDACTED_FIELD_NAME} is not a known field of ${label} (its name looks like personal data, so it is not repeated; PII belongs to the PII package, @swan/pii)` };
      }
      const property = safeName(submitted);
      return isPiiFieldName(property)
        ? { property, message: `${property} ${PII_MESSAGE}` }
        : { property, message: `${property} is not a known field of ${label}` };
    }
    case 'type':
      return { allowed: { type: p.type }, message: `${label} must be ${String(p.type).split(',').map((t) => TYPES[t] ?? t).join(' or ')}${unit && ` of${unit}`}` };
    case 'enum': {
      const values = Array.isArray(p.allowedValues) ? p.allowedValues : [];
      return { allowed: values, message: `${label} must be one of: ${values.map(String).join(', ')}` };
    }
    case 'const':
      return { allowed: [p.allowedValue], message: `${label} must be ${JSON.stringify(p.allowedValue)}` };
    case 'format': {
      const format = String(p.format);
      return { allowed: { format }, message: `${label} must be ${FORMATS[format] ?? `a valid ${format}`}` };
    }
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum':
      return { allowed: { [error.keyword]: num(p.limit) }, message: `${label} must be ${LIMITS[error.keyword]} ${num(p.limit)}${unit}` };
    case 'minLength':
      return num(p.limit) === 1
        ? { allowed: { minLength: 1 }, message: `${label} must not be empty` }
        : { allowed: { minLength: num(p.limit) }, message: `${label} must be at least ${num(p.limit)} characters long` };
    case 'maxLength':
      return { allowed: { maxLength: num(p.limit) }, message: `${label} must be at most ${num(p.limit)} characters long` };
    case 'minItems':
      return { allowed: { minItems: num(p.limit) }, message: `${label} must have at least ${num(p.limit)} items` };
    case 'maxItems':
      return { allowed: { maxItems: num(p.limit) }, message: `${label} must have at most ${num(p.limit)} items` };
    case 'uniqueItems':
      return { message: `${label} must not list the same value twice (items ${num(p.j)} and ${num(p.i)})` };
    case 'multipleOf':
      return { allowed: { multipleOf: num(p.multipleOf) }, message: `${label} must be a multiple of ${num(p.multipleOf)}` };
    case 'pattern': {
      const pattern = String(p.pattern);
      if (pattern === VERSION_PATTERN) return { allowed: { pattern }, message: `${label} must be a version like 3.0.0` };
      if (pattern === TEXT_PATTERN) return { allowed: { pattern }, message: `${label} must not contain NUL characters or unpaired surrogates` };
      return { allowed: { pattern }, message: `${label} must match the pattern ${pattern}` };
    }
    default:
      return { message: `${label} is not valid (${error.keyword})` };
  }
}
