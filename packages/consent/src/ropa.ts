import type { ProcessingRecord } from '@swan/core';
import { CONSENT_TYPES } from './types.js';

/**
 * `@swan/consent`'s entry in the record of processing activities (GDPR Art. 30): the consent
 * ledger (proof of consent, Art. 7(1)) and the consent texts.
 *
 * @example
 * ```ts
 * consentProcessingRecord().consentTypes; // ['data_collection', 'ai_processing', …]
 * ```
 */
export function consentProcessingRecord(): ProcessingRecord {
  return {
    package: 'consent',
    activity: 'Consent ledger',
    purposes: [
      'prove which consent text (version and SHA-256) each client granted, refused or withdrew, and when (Art. 7(1))',
      'refuse processing that needs a consent the client has not given or has withdrawn (Art. 7(3))',
    ],
    dataSubjects: ['clients'],
    consentTypes: [...CONSENT_TYPES],
    tables: [
      {
        table: 'client_consents', holds: 'every grant, refusal and withdrawal of a consent type by a client, append-only',
        categories: ['consent type and text version', 'times', 'consent method', 'IP address', 'user agent', 'signature data', 'withdrawal reason'],
        encrypted: false,
        erasure: 'kept as proof: every active consent is revoked ("Client erased") by a trigger, which clears the IP address, user agent and signature data of every row (sealed under the client\'s data key when a sealer is configured) and replaces a plaintext withdrawal reason; version, type, times and method stay',
        retention: 'kept as proof of consent',
      },
    ],
    processors: [],
    publishes: ['consent_granted', 'consent_revoked'],
    consumes: [],
    retentionRules: [],
    measures: [
      'consent texts are immutable; each record names the exact text version and its SHA-256',
      'records are never updated except to revoke them; a new grant replaces the active one',
      'a client reads and changes only their own consents (row-level security)',
    ],
  };
}
