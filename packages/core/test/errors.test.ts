import { describe, expect, it } from 'vitest';
import { ERROR_STATUS, SwanError, createGuardContext, errors, httpStatusFor, isSwanError, runGuards, toErrorResponse, type Guard, type SwanRequest } from '@swan/core';

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

  it('has a helper for every contract code, each giving its code, status, details and headers', () => {
    const made = [
      errors.validation('bad', { field: 'x' }), errors.invalidJson(), errors.webhookSignatureInvalid(),
      errors.schema({ code: 'MISSING_SCHEMA_VERSION', message: 'm', details: { expected: '3.x.y' } }),
      errors.schema({ code: 'INCOMPATIBLE_SCHEMA_VERSION', message: 'm', details: { expected: '3.x.y' } }),
      errors.schema({ code: 'SCHEMA_VALIDATION_FAILED', message: 'm', details: [] }),
      errors.unauthenticated(), errors.subscriptionRequired('pay', { requiredTier: 'tier_2' }), errors.forbidden(),
      errors.consentRequired('consent', { consentType: 'ai_processing' }), errors.reconsentRequired('again'), errors.processingRestricted(), errors.notFound(),
      errors.conflict('taken'), errors.payloadTooLarge(), errors.rateLimited(7), errors.unavailable('down'),
    ];
    const contract = Object.keys(ERROR_STATUS).filter((code) => code !== 'INTERNAL').sort();
    expect([...new Set(made.map((e) => e.code))].sort()).toEqual(contract);
    for (const e of made) expect(e).toBeInstanceOf(SwanError);
    expect(toErrorResponse(errors.subscriptionRequired('pay', { requiredTier: 'tier_2' }))).toEqual({
      status: 402, body: { success: false, error: { code: 'SUBSCRIPTION_REQUIRED', message: 'pay', details: { requiredTier: 'tier_2' } } }, headers: {},
    });
    expect(toErrorResponse(errors.invalidJson()).body.error).toEqual({ code: 'INVALID_JSON', message: 'Request body is not valid JSON' });
    expect(errors.payloadTooLarge().message).toBe('Request body is too large');
  });

  it('puts Retry-After last on RATE_LIMITED, after the headers given, and keeps details and cause', () => {
    const e = errors.rateLimited(42, { message: 'Slow down', details: { policy: 'aiQuery' }, headers: { RateLimit: '"aiQuery";r=0;t=42' } });
    expect(toErrorResponse(e)).toEqual({
      status: 429,
      body: { success: false, error: { code: 'RATE_LIMITED', message: 'Slow down', details: { policy: 'aiQuery' } } },
      headers: { RateLimit: '"aiQuery";r=0;t=42', 'Retry-After': '42' },
    });
    expect(errors.rateLimited(1).message).toBe('Too many requests. Please try again later.');
    const cause = new Error('ECONNREFUSED');
    const down = errors.unavailable('Redis is down', { cause, headers: { 'Retry-After': '5' } });
    expect([down.code, down.status, down.cause, down.headers, down.details]).toEqual(['UNAVAILABLE', 503, cause, { 'Retry-After': '5' }, undefined]);
    expect(errors.piiKeyUnavailable('no key', cause).cause).toBe(cause);
    expect(errors.migration('MIGRATION_CYCLE', 'cycle').code).toBe('MIGRATION_CYCLE');
  });
});

describe('guards', () => {
  const req = { actor: null } as unknown as SwanRequest;

  it('runs guards in order and stops at the first that denies', async () => {
    const ran: string[] = [];
    const pass = (name: string): Guard => () => void ran.push(name);
    const deny: Guard = () => { ran.push('deny'); throw errors.forbidden(); };
    await expect(runGuards([pass('a'), deny, pass('b')], req, { setHeader() {} })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(ran).toEqual(['a', 'deny']);
  });

  it('gives one context per response, writing headers on that response', () => {
    const contextOf = createGuardContext<{ headers: Record<string, string> }>((res, name, value) => void (res.headers[name] = value));
    const one = { headers: {} as Record<string, string> };
    const two = { headers: {} as Record<string, string> };
    expect(contextOf(one)).toBe(contextOf(one));
    expect(contextOf(one)).not.toBe(contextOf(two));
    contextOf(one).setHeader('RateLimit', 'x');
    expect([one.headers, two.headers]).toEqual([{ RateLimit: 'x' }, {}]);
  });
});
