export { masterPromptSchema } from './generated/schema.js';
export type { MasterPrompt, ClientProfile, MasterPromptMeta, ChangeLogEntry } from './types.js';
export {
  AJV_OPTIONS,
  compiledMasterPromptValidator,
  checkMasterPrompt,
  masterPromptProblems,
  assertMasterPrompt,
  enforceSchemaVersion,
  validateMasterPromptBody,
} from './validation.js';
export {
  checkSchemaVersion,
  schemaValidationFailure,
  SCHEMA_MAJOR_VERSION,
  type CompiledValidate,
  type MasterPromptCheck,
  type MasterPromptFailure,
  type MasterPromptErrorCode,
} from './master-prompt-check.js';
export {
  describeErrors, problemField,
  type DescribeOptions, type DescribableError, type FieldLabel, type MessageContext, type MessageTable, type MessageTemplate,
} from './describe-errors.js';
export { isPiiFieldName, labelOf, looksLikePersonalData, PII_FIELD_NAMES, PII_MESSAGE, REDACTED_FIELD_NAME, type Problem, type AjvErrorLike } from './problems.js';
export {
  createMasterPromptService,
  masterPromptExportContributor,
  withServerFields,
  actorLabel,
  MASTER_PROMPT_STORED,
  type MasterPromptRecord,
  type MasterPromptService,
  type MasterPromptServiceOptions,
} from './master-prompt.service.js';
export { masterPromptRoutes, MASTER_PROMPT_PATH, MASTER_PROMPT_BODY_LIMIT } from './http.js';
export { browserValidatorSource } from './generated/browser-validator.js';
export { migrations } from './generated/migrations.js';
