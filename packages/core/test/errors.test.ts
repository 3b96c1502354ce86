import { describe, expect, it } from 'vitest';
import { ERROR_STATUS, SwanError, httpStatusFor, isSwanError, toErrorResponse } from '@swan/core';

describe('errors', () => {
  it('maps every contract code to the status of API.md', () => {
    expect(ERROR_STATUS).toMatchObject({
      INVALID_JSON: 400, VALIDATION_FAILED: 400, SCHEMA_VALIDATION_FAILED: 400, MISSING_SCHEMA_VERSION: 400,
      INCOMPATIBLE_SCHEMA_VERSION: 400, WEBHOOK_SIGNATURE_INVALID: 400, UNAUTHENTICATED: 401, SUBSCRIPTION_REQUIRED: 402,
      FORBIDDEN: 403, CONSENT_REQUIRED: 403, RECONSENT_REQUIRED: 403, NOT_FOUND: 404, CONFLICT: 409,
      PAYLOAD_TOO_LARGE: 413, RATE_LIMITED: 429, UNAVAILABLE: 503,
    });
    expect(httpStatusFor('SOMETHING_ELSE')).toBe(500);
  });

  it('builds the envelope with details and headers', () => {
    const e = new SwanError({ code: 'RATE_LIMITED', message: 'Slow down', details: { policy: 'aiQuery' }, headers: { 'Retry-After': '42' } });
    expect(isSwanError(e)).toBe(true);
    expect(toErrorResponse(e)).toEqual({
      status: 429,
      body: { success: false, error: { code: 'RATE_LIMITED', message: 'Slow down', details: { policy: 'aiQuery' } } },
      headers: { 'Retry-After': '42' },
    });
  });

  it('hides unknown errors behind a bare 500', () => {
    const r = toErrorResponse(new Error('password=hunter2 for dana@example.org'));
    expect(r.status).toBe(500);
    expect(JSON.stringify(r.body)).not.toMatch(/hunter2|dana/);
  });

  it('answers a SwanError with a code outside the contract as the bare 500 INTERNAL', () => {
    const r = toErrorResponse(new SwanError({ code: 'PII_KEY_UNAVAILABLE', message: 'Wrapped data key failed authentication', details: { keyId: 'k1' } }));
    expect(r).toEqual({ status: 500, body: { success: false, error: { code: 'INTERNAL', message: 'Internal server error' } }, headers: {} });
  });
});
