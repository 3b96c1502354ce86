import { isIP } from 'node:net';
import { checkText, errors, isUuid, SwanError } from '@swan/core';
import {
  CONSENT_METHODS,
  CONSENT_TYPES,
  MAX_SIGNATURE_BYTES,
  type ConsentMethod,
  type ConsentType,
} from './types.js';

const VERSION = /^[0-9]{1,4}(\.[0-9]{1,4}){0,3}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MAX_USER_AGENT = 1024;

/** A UUID client id, else `VALIDATION_FAILED`. */
export function clientIdOf(value: unknown, field = 'clientId'): string {
  if (!isUuid(value)) throw errors.validation(`${field} must be a UUID`, { field });
  return value.toLowerCase();
}

/** One of the six consent types, else `VALIDATION_FAILED`. */
export function consentTypeOf(value: unknown): ConsentType {
  if (typeof value !== 'string' || !(CONSENT_TYPES as readonly string[]).includes(value)) {
    throw errors.validation(`consentType must be one of ${CONSENT_TYPES.join(', ')}`, {
      field: 'consentType',
      allowed: CONSENT_TYPES,
    });
  }
  return value as ConsentType;
}

/** A version label like `3.0` or `3.10.1` (at most 10 characters). */
export function versionOf(value: unknown, field = 'consentVersion'): string {
  if (typeof value !== 'string' || value.length > 10 || !VERSION.test(value)) {
    throw errors.validation(`${field} must be a version like "3.1" (digits and dots, at most 10 characters)`, { field });
  }
  return value;
}

export function methodOf(value: unknown): ConsentMethod {
  if (value === undefined || value === null) return 'web_form';
  if (typeof value !== 'string' || !(CONSENT_METHODS as readonly string[]).includes(value)) {
    throw errors.validation(`consentMethod must be one of ${CONSENT_METHODS.join(', ')}`, { field: 'consentMethod', allowed: CONSENT_METHODS });
  }
  return value as ConsentMethod;
}

export function booleanOf(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw errors.validation(`${field} must be true or false`, { field });
  return value;
}

export function signatureOf(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw errors.validation('signatureData must be a string (e.g. base64)', { field: 'signatureData' });
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_SIGNATURE_BYTES) {
    throw new SwanError({
      code: 'PAYLOAD_TOO_LARGE',
      message: `signatureData is ${bytes} bytes; at most ${MAX_SIGNATURE_BYTES} are accepted`,
      details: { field: 'signatureData', max: MAX_SIGNATURE_BYTES },
    });
  }
  return checkText(value, 'signatureData', { max: MAX_SIGNATURE_BYTES, multiline: true });
}

/** The `User-Agent` kept as consent proof: cut to 1024 characters (never inside a surrogate pair), no control characters. */
export function userAgentOf(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null;
  const cut = value.length > MAX_USER_AGENT && /[\uD800-\uDBFF]/.test(value[MAX_USER_AGENT - 1]!) ? MAX_USER_AGENT - 1 : MAX_USER_AGENT;
  return checkText(value.slice(0, cut), 'userAgent', { max: MAX_USER_AGENT });
}

export function ipOf(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || isIP(value) === 0) throw errors.validation('ipAddress must be an IPv4 or IPv6 address', { field: 'ipAddress' });
  return value;
}

/** A `YYYY-MM-DD` calendar date that exists. */
export function dateOf(value: unknown, field: string): string {
  if (typeof value === 'string' && DATE.test(value)) {
    const d = new Date(`${value}T00:00:00Z`);
    if (!Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value) return value;
  }
  throw errors.validation(`${field} must be a date YYYY-MM-DD`, { field });
}

/** An instant in the future (Date or ISO 8601 string), or null. */
export function expiryOf(value: unknown, now: Date): Date | null {
  if (value === undefined || value === null) return null;
  const d = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(d.getTime())) throw errors.validation('expiresAt must be an ISO 8601 date-time', { field: 'expiresAt' });
  if (d.getTime() <= now.getTime()) throw errors.validation('expiresAt must be in the future', { field: 'expiresAt' });
  return d;
}

export function objectOf(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw errors.validation(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}
