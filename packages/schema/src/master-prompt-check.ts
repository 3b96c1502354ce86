import { describeErrors, type DescribeOptions } from './describe-errors.js';
import { looksLikePersonalData, type AjvErrorLike, type Problem } from './problems.js';
import type { MasterPrompt } from './types.js';

/** The schema major version this package validates. */
export const SCHEMA_MAJOR_VERSION = '3';

/** An Ajv validate function, compiled at run time (server) or ahead of time (standalone). */
export interface CompiledValidate {
  (data: unknown): boolean;
  errors?: readonly AjvErrorLike[] | null;
}

/** Codes a master prompt check can fail with (all HTTP 400 in the contract). */
export type MasterPromptErrorCode = 'MISSING_SCHEMA_VERSION' | 'INCOMPATIBLE_SCHEMA_VERSION' | 'SCHEMA_VALIDATION_FAILED';

/** Why a master prompt was refused: the `error` of the HTTP envelope, ready to send. */
export interface MasterPromptFailure {
  code: MasterPromptErrorCode;
  message: string;
  /** Problems for `SCHEMA_VALIDATION_FAILED`; `{ expected, received? }` for version errors. */
  details: Problem[] | { expected: string; received?: string };
}

/** Result of {@link checkMasterPrompt}-style functions. */
export type MasterPromptCheck = { ok: true; value: MasterPrompt } | ({ ok: false } & MasterPromptFailure);

/** What was sent as `schema_version`, shortened (it is user input); withheld when it looks like personal data. */
function received(value: unknown): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  if (looksLikePersonalData(s)) return REDACTED_VALUE;
  return s.length > 32 ? `${s.slice(0, 32)}…` : s;
}

/** Stands in for a received `schema_version` that looks like personal data. */
const REDACTED_VALUE = '[redacted]';

/**
 * The version gate that runs before schema validation: a plain object without `schema_version`
 * is `MISSING_SCHEMA_VERSION`; anything but `<major>.x.y` is `INCOMPATIBLE_SCHEMA_VERSION` naming
 * expected and received. Non-objects pass through (schema validation reports their type).
 *
 * @example
 * ```ts
 * checkSchemaVersion({ schema_version: '2.9.0' }, '3');
 * // { code: 'INCOMPATIBLE_SCHEMA_VERSION', message: 'Expected schema_version 3.x.y, received "2.9.0"', … }
 * ```
 */
export function checkSchemaVersion(body: unknown, major: string = SCHEMA_MAJOR_VERSION): MasterPromptFailure | null {
  return versionCheck(major)(body);
}

const versionChecks = new Map<string, (body: unknown) => MasterPromptFailure | null>();

/** The version gate for one major version, built once (its pattern compiled once); internal. */
export function versionCheck(major: string): (body: unknown) => MasterPromptFailure | null {
  const cached = versionChecks.get(major);
  if (cached) return cached;
  if (!/^\d+$/.test(major)) throw new TypeError(`major version must be digits, got ${JSON.stringify(major)}`);
  const expected = `${major}.x.y`;
  const pattern = new RegExp(`^${major}\\.\\d+\\.\\d+$`);
  const check = (body: unknown): MasterPromptFailure | null => {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
    const version = (body as Record<string, unknown>).schema_version;
    if (version === undefined || version === null || version === '') {
      return { code: 'MISSING_SCHEMA_VERSION', message: `schema_version is required (expected ${expected})`, details: { expected } };
    }
    if (typeof version !== 'string' || !pattern.test(version)) {
      const got = received(version);
      return {
        code: 'INCOMPATIBLE_SCHEMA_VERSION',
        message: `Expected schema_version ${expected}, received ${JSON.stringify(got)}`,
        details: { expected, received: got },
      };
    }
    return null;
  };
  versionChecks.set(major, check);
  return check;
}

/**
 * The `SCHEMA_VALIDATION_FAILED` failure for a list of problems; the message counts them and
 * quotes the first three (problem messages never contain submitted values).
 */
export function schemaValidationFailure(problems: Problem[]): MasterPromptFailure {
  const shown = problems.slice(0, 3).map((p) => p.message).join('; ');
  const more = problems.length > 3 ? `; and ${problems.length - 3} more` : '';
  const count = `${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}`;
  return { code: 'SCHEMA_VALIDATION_FAILED', message: `Master prompt does not match schema v${SCHEMA_MAJOR_VERSION} (${count}): ${shown}${more}`, details: problems };
}

/**
 * Builds the full check (version first, then schema) around a compiled validator. The server
 * and the standalone validator both use it, so they answer alike. `options` word the problems
 * in a form's labels or another language (see `describeErrors`).
 */
export function createMasterPromptCheck(validate: CompiledValidate, major: string = SCHEMA_MAJOR_VERSION) {
  const gate = versionCheck(major);
  return function check(data: unknown, options?: DescribeOptions): MasterPromptCheck {
    const versionFailure = gate(data);
    if (versionFailure) return { ok: false, ...versionFailure };
    if (validate(data)) return { ok: true, value: data as MasterPrompt };
    return { ok: false, ...schemaValidationFailure(describeErrors(validate.errors, options)) };
  };
}

/** Schema problems only (no version gate): `[]` when valid. */
export function createProblemsOf(validate: CompiledValidate) {
  return (data: unknown, options?: DescribeOptions): Problem[] => (validate(data) ? [] : describeErrors(validate.errors, options));
}
