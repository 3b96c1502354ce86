import { errors, isUuid, type SwanError } from '@swan/core';

/** Checks one payload; returns problems as `{ path, message }` (empty when valid). */
export type PayloadValidator = (payload: Record<string, unknown>) => { path: string; message: string }[];

type Rule = 'uuid' | 'string' | 'datetime' | 'timezone' | 'number' | 'boolean';
/** Field rules of one event type: `name` required, `name?` optional; extra fields are allowed. */
type Shape = Record<string, Rule>;

const CLIENT: Shape = { clientId: 'uuid' };
const CHECKIN: Shape = { clientId: 'uuid', scheduledFor: 'datetime', timezone: 'timezone' };

/**
 * The event types of the Swan SDK and the payload each carries (ids and aliases, never PII).
 * Extend it by declaration merging when you register your own types:
 *
 * @example
 * ```ts
 * declare module '@swan/outbox' {
 *   interface SwanEventMap { invoice_sent: { invoiceId: string } }
 * }
 * const outbox = createOutbox({ db, schemas: { invoice_sent: (p) => typeof p.invoiceId === 'string' ? [] : [{ path: 'invoiceId', message: 'required' }] } });
 * ```
 */
export interface SwanEventMap {
  /** `recurring` and `localTime` (`HH:MM`) are set on the occurrences of a daily check-in. */
  morning_checkin_scheduled: { clientId: string; scheduledFor: string; timezone: string; checkinId?: string; recurring?: boolean; localTime?: string };
  evening_checkin_scheduled: { clientId: string; scheduledFor: string; timezone: string; checkinId?: string; recurring?: boolean; localTime?: string };
  checkin_send_requested: { clientId: string; checkinId?: string };
  checkin_response_received: { clientId?: string; checkinId?: string; messageId?: string };
  photo_analysis_requested: { clientId: string; photoId?: string; objectKey?: string };
  ai_query_submitted: { clientId: string; queryId?: string };
  subscription_activated: { clientId: string; subscriptionId?: string; tier?: string };
  subscription_canceled: { clientId: string; subscriptionId?: string };
  payment_failed: { clientId?: string; subscriptionId?: string; invoiceId?: string; hostedInvoiceUrl?: string };
  consent_granted: { clientId: string; consentType: string; consentVersion?: string };
  consent_revoked: { clientId: string; consentType: string; /** True when the record is a refusal (consent declined), not a withdrawal. */ declined?: boolean };
  client_erased: { clientId: string };
  rate_limit_alert: { policy: string; violations?: number };
}

/** The built-in event types. */
export type SwanEventType = keyof SwanEventMap;

const BUILT_IN: Record<SwanEventType, Shape> = {
  morning_checkin_scheduled: { ...CHECKIN, 'checkinId?': 'string', 'recurring?': 'boolean', 'localTime?': 'string' },
  evening_checkin_scheduled: { ...CHECKIN, 'checkinId?': 'string', 'recurring?': 'boolean', 'localTime?': 'string' },
  checkin_send_requested: { ...CLIENT, 'checkinId?': 'string' },
  checkin_response_received: { 'clientId?': 'uuid', 'checkinId?': 'string', 'messageId?': 'string' },
  photo_analysis_requested: { ...CLIENT, 'photoId?': 'string', 'objectKey?': 'string' },
  ai_query_submitted: { ...CLIENT, 'queryId?': 'string' },
  subscription_activated: { ...CLIENT, 'subscriptionId?': 'string', 'tier?': 'string' },
  subscription_canceled: { ...CLIENT, 'subscriptionId?': 'string' },
  payment_failed: { 'clientId?': 'uuid', 'subscriptionId?': 'string', 'invoiceId?': 'string', 'hostedInvoiceUrl?': 'string' },
  consent_granted: { ...CLIENT, consentType: 'string', 'consentVersion?': 'string' },
  consent_revoked: { ...CLIENT, consentType: 'string', 'declined?': 'boolean' },
  client_erased: CLIENT,
  rate_limit_alert: { policy: 'string', 'violations?': 'number' },
};

/** Top-level payload keys that would carry PII; events carry ids and aliases only. */
const PII_KEYS = new Set(['email', 'phone', 'phone_number', 'phoneNumber', 'full_name', 'fullName', 'date_of_birth', 'dateOfBirth', 'address', 'emergency_contact', 'emergencyContact', 'ssn']);

const MAX_PAYLOAD_BYTES = 64 * 1024;

function timezoneOk(v: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: v });
    return true;
  } catch {
    return false;
  }
}

const CHECKS: Record<Rule, (v: unknown) => boolean> = {
  uuid: isUuid,
  string: (v) => typeof v === 'string' && v.length > 0 && v.length <= 500,
  datetime: (v) => typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v) && !Number.isNaN(Date.parse(v)),
  timezone: (v) => typeof v === 'string' && timezoneOk(v),
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  boolean: (v) => typeof v === 'boolean',
};

function fromShape(shape: Shape): PayloadValidator {
  const fields = Object.entries(shape).map(([key, rule]) => ({ name: key.replace(/\?$/, ''), optional: key.endsWith('?'), rule }));
  return (payload) => {
    const problems: { path: string; message: string }[] = [];
    for (const f of fields) {
      const v = payload[f.name];
      if (v === undefined || v === null) {
        if (!f.optional) problems.push({ path: f.name, message: 'is required' });
      } else if (!CHECKS[f.rule](v)) {
        problems.push({ path: f.name, message: `must be a valid ${f.rule}` });
      }
    }
    return problems;
  };
}

/** Validators of the built-in event types. */
export const builtInValidators: Record<SwanEventType, PayloadValidator> = Object.fromEntries(
  Object.entries(BUILT_IN).map(([type, shape]) => [type, fromShape(shape)]),
) as Record<SwanEventType, PayloadValidator>;

const EVENT_TYPE = /^[a-z][a-z0-9_.]{0,99}$/;

function invalid(message: string, details?: unknown): SwanError {
  return errors.validation(message, details);
}

/**
 * Validates an event before it is written: known type, JSON object payload without PII keys,
 * at most 64 kB, and the type's own rules. Throws `VALIDATION_FAILED`; nothing is written.
 */
export function validateEvent(
  validators: ReadonlyMap<string, PayloadValidator | null>,
  eventType: unknown,
  payload: unknown,
): void {
  if (typeof eventType !== 'string' || !EVENT_TYPE.test(eventType)) {
    throw invalid('eventType must be lower_snake_case (a-z, 0-9, _ and .), at most 100 characters');
  }
  if (!validators.has(eventType)) {
    throw invalid(`Unknown event type ${eventType}: register it with createOutbox({ schemas }) or outbox.register()`);
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw invalid(`Payload of ${eventType} must be a JSON object`);
  }
  const pii = Object.keys(payload).filter((k) => PII_KEYS.has(k));
  if (pii.length) throw invalid(`Payload of ${eventType} must not carry PII fields`, { fields: pii });
  if (Buffer.byteLength(JSON.stringify(payload)) > MAX_PAYLOAD_BYTES) {
    throw invalid(`Payload of ${eventType} is larger than 64 kB: publish ids, not documents`);
  }
  const problems = validators.get(eventType)?.(payload as Record<string, unknown>) ?? [];
  if (problems.length) throw invalid(`Payload of ${eventType} is invalid`, { eventType, problems });
}

export { EVENT_TYPE };
