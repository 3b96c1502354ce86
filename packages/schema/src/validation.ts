import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { errors, type Guard } from '@swan/core';
import { masterPromptSchema } from './generated/schema.js';
import { createMasterPromptCheck, createProblemsOf, schemaValidationFailure, versionCheck, SCHEMA_MAJOR_VERSION, type CompiledValidate } from './master-prompt-check.js';
import { describeErrors } from './describe-errors.js';
import type { MasterPrompt } from './types.js';

// ajv-formats is CommonJS with `exports.default`; under NodeNext the default import is the module.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

/**
 * Ajv options of the server validator; the standalone code is generated with the same
 * (scripts/generate.mjs `AJV_OPTIONS`). `inlineRefs: false` keeps each `definitions` entry one
 * function, which keeps the browser bundle small.
 */
export const AJV_OPTIONS = { strict: true, allErrors: true, inlineRefs: false } as const;

const ajv = new Ajv({ ...AJV_OPTIONS });
addFormats(ajv);

/**
 * The schema compiled once, at import: Ajv strict mode, ajv-formats, all errors.
 *
 * @example
 * ```ts
 * if (!compiledMasterPromptValidator(doc)) console.log(compiledMasterPromptValidator.errors);
 * ```
 */
export const compiledMasterPromptValidator: CompiledValidate = ajv.compile(masterPromptSchema as object);

/**
 * Checks a master prompt: version first (`MISSING_SCHEMA_VERSION`, `INCOMPATIBLE_SCHEMA_VERSION`),
 * then the schema (`SCHEMA_VALIDATION_FAILED`, one readable problem per issue). Never throws.
 *
 * @example
 * ```ts
 * const r = checkMasterPrompt(req.body);
 * if (!r.ok) return res.status(400).json({ success: false, error: { code: r.code, message: r.message, details: r.details } });
 * ```
 */
export const checkMasterPrompt = createMasterPromptCheck(compiledMasterPromptValidator);

/**
 * Schema problems of a value (no version gate), `[]` when valid.
 *
 * @example
 * ```ts
 * masterPromptProblems({ schema_version: '3.0.0' }).map((p) => p.message);
 * // ['meta is required', 'client_profile is required']
 * ```
 */
export const masterPromptProblems = createProblemsOf(compiledMasterPromptValidator);

/**
 * Throws the matching `SwanError` (HTTP 400) unless `data` is a valid v3 master prompt.
 *
 * @example
 * ```ts
 * assertMasterPrompt(body); // body is MasterPrompt from here on
 * ```
 */
export function assertMasterPrompt(data: unknown): asserts data is MasterPrompt {
  const result = checkMasterPrompt(data);
  if (!result.ok) throw errors.schema(result);
}

/**
 * Guard: rejects a request body without `schema_version` (400 `MISSING_SCHEMA_VERSION`) or with
 * another major version (400 `INCOMPATIBLE_SCHEMA_VERSION`, naming expected and received).
 * Put it before {@link validateMasterPromptBody}.
 *
 * @example
 * ```ts
 * const route: Route = { method: 'POST', path: '/api/prompts', access: ['admin'],
 *   guards: [enforceSchemaVersion('3'), validateMasterPromptBody], handler };
 * ```
 */
export function enforceSchemaVersion(major: string = SCHEMA_MAJOR_VERSION): Guard {
  const gate = versionCheck(major); // built once; throws TypeError for a bad major now, not per request
  return (req) => {
    const failure = gate(req.body);
    if (failure) throw errors.schema(failure);
  };
}

/**
 * Guard: 400 `SCHEMA_VALIDATION_FAILED` with every problem unless the body matches the v3 schema.
 *
 * @example
 * ```ts
 * app.post('/prompts', expressGuard(enforceSchemaVersion('3')), expressGuard(validateMasterPromptBody), handler);
 * ```
 */
export const validateMasterPromptBody: Guard = (req) => {
  // The success path is the compiled validator and nothing else: problems are built on failure only.
  if (!compiledMasterPromptValidator(req.body)) {
    throw errors.schema(schemaValidationFailure(describeErrors(compiledMasterPromptValidator.errors)));
  }
};
