import type { ProcessingRecord } from './contracts.js';

/**
 * `@swan/core`'s entry in the record of processing activities (GDPR Art. 30): the hash-chained
 * audit log of every access to personal data (accountability, Art. 5(2)). Its retention rule
 * (`audit.log`) is `@swan/outbox`'s `auditRetentionRule`.
 *
 * @example
 * ```ts
 * coreProcessingRecord().tables[0]!.table; // 'swan_audit_log'
 * ```
 */
export function coreProcessingRecord(): ProcessingRecord {
  return {
    package: 'core',
    activity: 'Audit log',
    purposes: ['show who accessed or changed which client\'s data, when, why and with what outcome (Art. 5(2), Art. 30)'],
    dataSubjects: ['clients (by id)', 'staff and services (actor ids)'],
    tables: [
      {
        table: 'swan_audit_log', holds: 'one append-only, hash-chained entry per access or change, denied ones included',
        categories: ['actor id and role', 'client id (resource id)', 'action and outcome', 'time', 'purpose or record code', 'note (sealed under the client\'s data key)'],
        encrypted: false,
        erasure: 'kept (append-only; the chain must verify): entries keep the client id, actor, action, time, outcome and purpose or record code; the sealed note can no longer be opened once the data key is destroyed',
      },
    ],
    processors: [],
    publishes: [],
    consumes: [],
    retentionRules: [],
    measures: [
      'append-only for the application role; each entry hashed into a chain (`swan audit verify`)',
      'database roles that cannot read past row-level security (checked at startup)',
    ],
  };
}
