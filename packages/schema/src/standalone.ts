/**
 * `@swan/schema/standalone`: the master prompt validator precompiled at build time. It imports no
 * Ajv and uses no `eval`/`new Function`, so it runs in browsers under a strict CSP, and it
 * answers exactly like the server (same checks, same messages).
 *
 * @example
 * ```ts
 * import { checkMasterPrompt } from '@swan/schema/standalone';
 * const result = checkMasterPrompt(formValue);
 * if (!result.ok) showErrors(result.details);
 * // in the form's words: checkMasterPrompt(formValue, { labels: { '/client_profile/basic_info/age': 'Age' } })
 * ```
 */
// The generated file is plain Ajv output (`// @ts-nocheck`); it is typed here.
import compiled from './generated/validate-master-prompt.js';
import { createMasterPromptCheck, createProblemsOf, type CompiledValidate } from './master-prompt-check.js';

const validate = compiled as unknown as CompiledValidate;

/**
 * Checks a master prompt: version first (`MISSING_SCHEMA_VERSION`, `INCOMPATIBLE_SCHEMA_VERSION`),
 * then the schema (`SCHEMA_VALIDATION_FAILED` with one problem per issue). Never throws.
 *
 * @example
 * ```ts
 * const r = checkMasterPrompt({ schema_version: '2.0.0' });
 * if (!r.ok) console.log(r.code); // INCOMPATIBLE_SCHEMA_VERSION
 * ```
 */
export const checkMasterPrompt = createMasterPromptCheck(validate);

/**
 * Schema problems of a value (no version gate), `[]` when valid.
 *
 * @example
 * ```ts
 * masterPromptProblems(42)[0].message; // "The master prompt must be an object"
 * ```
 */
export const masterPromptProblems = createProblemsOf(validate);

export { checkSchemaVersion, SCHEMA_MAJOR_VERSION } from './master-prompt-check.js';
export type { MasterPromptCheck, MasterPromptFailure, MasterPromptErrorCode } from './master-prompt-check.js';
export {
  describeErrors, problemField,
  type DescribeOptions, type DescribableError, type FieldLabel, type MessageContext, type MessageTable, type MessageTemplate,
} from './describe-errors.js';
export { isPiiFieldName, looksLikePersonalData, PII_FIELD_NAMES, REDACTED_FIELD_NAME, type Problem } from './problems.js';
export type { MasterPrompt, ClientProfile, MasterPromptMeta, ChangeLogEntry } from './types.js';
