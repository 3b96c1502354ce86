/**
 * Why someone reads a client's PII: `getClientPII` takes one of the configured purposes
 * (`createPii({ purposes })`, default {@link DEFAULT_PURPOSES}); the SDK's own service reads
 * (SMS sending, checkout prefill) use `service_delivery`.
 */
export const DEFAULT_PURPOSES = [
  'session_planning',
  'emergency_contact',
  'billing_support',
  'service_delivery',
  'data_subject_request',
  'legal_obligation',
  'security_investigation',
] as const;

/** The purpose of the SDK's own reads (SMS sending, checkout prefill). */
export const SERVICE_DELIVERY_PURPOSE = 'service_delivery';

/**
 * The fixed codes a record that outlives erasure carries instead of free text (the free text
 * itself is sealed under the client's data key, so erasure shreds it).
 */
export const RECORD_CODES = [
  'data_subject_request',
  'legal_obligation',
  'retention_expired',
  'account_closed',
  'security_investigation',
  'operator_request',
] as const;

export type RecordCode = (typeof RECORD_CODES)[number];
