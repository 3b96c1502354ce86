import type { ProcessingRecord } from '@swan/core';
import { builtInValidators } from './events.js';
import { auditRetentionRule, outboxRetentionRules } from './retention.js';

/**
 * `@swan/outbox`'s entry in the record of processing activities (GDPR Art. 30): the event log
 * that carries side effects between packages (ids and aliases, never PII), and the retention
 * rules of the outbox and of the audit log (`swan retention run`).
 *
 * @example
 * ```ts
 * outboxProcessingRecord().retentionRules.map((r) => r.name); // ['outbox.completed', …, 'audit.log']
 * ```
 */
export function outboxProcessingRecord(): ProcessingRecord {
  const events = 'events between packages: types, payloads with client ids and aliases (never PII), times, errors';
  return {
    package: 'outbox',
    activity: 'Transactional event outbox',
    purposes: ['deliver the side effects of a change (SMS, Stripe calls, AI requests, erasure beyond the database) reliably, after it commits'],
    dataSubjects: ['clients (by id and alias)'],
    eventTypes: Object.keys(builtInValidators),
    tables: [
      { table: 'swan_outbox', holds: events, categories: ['client ids', 'aliases'], encrypted: false, erasure: 'kept until outbox retention removes the events' },
      { table: 'swan_outbox_archive', holds: `archived ${events}`, categories: ['client ids', 'aliases'], encrypted: false, erasure: 'kept until outbox retention removes the events' },
    ],
    processors: [],
    publishes: [],
    consumes: [],
    retentionRules: [...outboxRetentionRules(), auditRetentionRule()],
    measures: [
      'payloads are validated per event type and refused when a top-level key names PII (email, phone, name, address, …)',
      'at-least-once delivery with retries and dead letters; nothing is dropped',
    ],
  };
}
