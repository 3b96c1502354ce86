import type { ProcessingRecord } from '@swan/core';
import { MASTER_PROMPT_STORED } from './master-prompt.service.js';

/**
 * `@swan/schema`'s entry in the record of processing activities (GDPR Art. 30): the versioned
 * master prompts (the coaching profile handed to AI services, without identity data).
 *
 * @example
 * ```ts
 * schemaProcessingRecord().tables[0]!.table; // 'client_master_prompts'
 * ```
 */
export function schemaProcessingRecord(): ProcessingRecord {
  return {
    package: 'schema',
    activity: 'Master prompts',
    purposes: ['keep each client\'s coaching profile (schema v3, versioned) for trainers and AI services'],
    dataSubjects: ['clients'],
    tables: [
      {
        table: 'client_master_prompts', holds: 'every version of each client\'s master prompt, keyed by client id and alias',
        categories: ['training profile', 'health and fitness data', 'pseudonym'],
        encrypted: false,
        erasure: 'deleted, every version (a trigger)',
        retention: 'until erasure',
      },
    ],
    processors: [],
    publishes: [MASTER_PROMPT_STORED],
    consumes: [],
    retentionRules: [],
    measures: [
      'validated against the master prompt schema v3 before it is stored; properties named like identity data (name, email, phone, …) are refused',
      'read by the admin, the assigned trainer, the client and ai_service only (row-level security)',
    ],
  };
}
