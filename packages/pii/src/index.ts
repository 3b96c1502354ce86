export { migrations } from './generated/migrations.js';
export { isAssignedTrainer } from './assignments.js';
export { LocalKeyProvider, parseMasterKeys, keyError, type KeyProvider, type KeyContext, type WrappedKey, type ForgottenClients } from './keys.js';
export { keyProviderFromEnv, indexKeyFromEnv, type KeyEnv } from './key-provider-env.js';
export { encryptField, decryptField, ciphertextKeyVersion, CIPHERTEXT_VERSION, type FieldBinding } from './cipher.js';
export { BlindIndex, normalizeEmail, normalizePhone } from './blind-index.js';
export { GALAXY_SWAN_ALIASES, aliasName, parseAlias } from './aliases.js';
export { ageOn, validateCreateClient, type ClientPII, type ClientTrainingInput, type CreateClientInput, type FieldProblem } from './validation.js';
export {
  PiiService, PII_TABLE, PII_FIELDS,
  type PiiServiceOptions, type ClientRef, type DecryptedPII, type TrainingRecord,
} from './service.js';
export { rotateKeys, SYSTEM_ACTOR, type RotateKeysOptions, type RotationProgress, type RotationResult } from './rotation.js';
export { piiRoutes, type PiiRoutesOptions } from './http.js';
export { splitLegacyMasterPrompts, type LegacySplitReport, type LegacySplitOptions } from './legacy.js';
