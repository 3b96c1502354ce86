import type { ProcessingRecord } from '@swan/core';
import { DEFAULT_PURPOSES } from './purposes.js';

/**
 * `@swan/pii`'s entry in the record of processing activities (GDPR Art. 30): client identity and
 * contact data (encrypted per client), training data, aliases, trainer assignments and
 * restrictions of processing. `purposes` is the list a PII read must state (`createPii({
 * purposes })`, default {@link DEFAULT_PURPOSES}).
 *
 * @example
 * ```ts
 * const record = piiProcessingRecord({ purposes: ['session_planning', 'data_subject_request'] });
 * ```
 */
export function piiProcessingRecord(options: { purposes?: readonly string[] } = {}): ProcessingRecord {
  return {
    package: 'pii',
    activity: 'Client identity, contact and training data',
    purposes: [
      'identify and contact clients (name, email, phone, emergency contact) to deliver coaching',
      'plan training from training data that carries no direct identifier (read by trainers and AI services)',
      'answer data-subject requests: export, rectification, restriction, erasure',
    ],
    dataSubjects: ['clients', 'their emergency contacts'],
    readPurposes: [...(options.purposes ?? DEFAULT_PURPOSES)],
    tables: [
      {
        table: 'client_profile_pii', holds: 'one row per client: identity and contact data',
        categories: ['name', 'preferred name', 'date of birth', 'blood type (health data)', 'email', 'phone number', 'emergency contact', 'postal address'],
        encrypted: true,
        erasure: 'kept as a tombstone: every ciphertext column and both blind indexes set to null; client id, key id, dates and the record code of the deletion stay (the free-text reason is sealed under the destroyed key)',
        retention: 'until erasure',
      },
      {
        table: 'client_data_keys', holds: 'the client\'s data key, wrapped by a master key',
        categories: ['none (key material)'], encrypted: true,
        erasure: 'deleted: every ciphertext of the client, copies in backups included, can no longer be decrypted (crypto-shredding)',
        retention: 'until erasure',
      },
      {
        table: 'client_profile_training', holds: 'training data per client, apart from identity data',
        categories: ['age', 'gender', 'body measurements', 'training goals and history', 'injuries, medications, allergies (health data)', 'wearable device'],
        encrypted: false, erasure: 'deleted', retention: 'until erasure',
      },
      {
        table: 'client_aliases', holds: 'the Galaxy-Swan alias (pseudonym) of each client',
        categories: ['pseudonym'], encrypted: false,
        erasure: 'kept until the alias retention window ends (aliasRetentionDays, default 30), then deleted by releaseErasedAliases()',
        retention: 'until erasure, then aliasRetentionDays',
      },
      {
        table: 'trainer_client_assignments', holds: 'which trainer coaches which client',
        categories: ['trainer and client ids'], encrypted: false, erasure: 'deleted', retention: 'until unassigned or erasure',
      },
      {
        table: 'client_restrictions', holds: 'the history of restrictions of processing (GDPR Art. 18) of each client',
        categories: ['dates', 'admin ids', 'reasons (sealed under the client\'s data key)'], encrypted: true, erasure: 'deleted (a trigger)', retention: 'until erasure',
      },
    ],
    processors: [
      {
        name: 'AI services', purpose: 'coaching answers and photo analysis (the ai_service role)',
        data: ['training data and master prompts by client id and alias; never identity or contact data'],
        notes: 'only with the client\'s ai_processing or photo_analysis consent; refused while processing is restricted',
      },
      {
        name: 'AWS KMS (optional)', purpose: 'wraps the per-client data keys (SWAN_KMS_KEY_ID)',
        data: ['data keys only; no personal data'],
      },
    ],
    publishes: ['client_erased'],
    consumes: [],
    retentionRules: [],
    measures: [
      'AES-256-GCM encryption of every identity field under a per-client data key wrapped by a master key (envelope encryption)',
      'lookups by email and phone through HMAC-SHA-256 blind indexes, never by plaintext',
      'row-level security by role: trainers see only assigned clients, ai_service never sees identity data',
      'every read of identity data audited (hash-chained audit log), denied attempts included',
      'erasure by crypto-shredding',
    ],
  };
}
