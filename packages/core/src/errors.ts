/**
 * The one table that decides HTTP status for every error code the SDK raises.
 * Adapters never choose a status themselves: they call {@link httpStatusFor}.
 */
export const ERROR_STATUS = {
  INVALID_JSON: 400,
  VALIDATION_FAILED: 400,
  SCHEMA_VALIDATION_FAILED: 400,
  MISSING_SCHEMA_VERSION: 400,
  INCOMPATIBLE_SCHEMA_VERSION: 400,
  WEBHOOK_SIGNATURE_INVALID: 400,
  UNAUTHENTICATED: 401,
  SUBSCRIPTION_REQUIRED: 402,
  FORBIDDEN: 403,
  CONSENT_REQUIRED: 403,
  RECONSENT_REQUIRED: 403,
  PROCESSING_RESTRICTED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

/** An error code that has an HTTP status in the contract. */
export type HttpErrorCode = keyof typeof ERROR_STATUS;

/**
 * Codes are UPPER_SNAKE. Codes of the HTTP contract map to their status; any other code
 * (for example `MIGRATION_CHECKSUM_MISMATCH`, raised outside a request) maps to 500.
 */
export type ErrorCode = HttpErrorCode | (string & {});

export interface SwanErrorOptions {
  code: ErrorCode;
  message: string;
  /** Safe-to-show structured details. Never put secrets or PII here. */
  details?: unknown;
  /** Extra response headers, e.g. `Retry-After` on `RATE_LIMITED`. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/**
 * The error every Swan package throws.
 *
 * @example
 * ```ts
 * throw new SwanError({ code: 'NOT_FOUND', message: 'Client not found' });
 * ```
 */
export class SwanError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  readonly headers: Record<string, string> | undefined;

  constructor(options: SwanErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SwanError';
    this.code = options.code;
    this.details = options.details;
    this.headers = options.headers;
  }

  /** The HTTP status of this error's code (500 for codes outside the contract). */
  get status(): number {
    return httpStatusFor(this.code);
  }
}

/** True for a {@link SwanError}, also one from another copy of this package. */
export function isSwanError(value: unknown): value is SwanError {
  return (
    value instanceof SwanError ||
    (value instanceof Error && value.name === 'SwanError' && typeof (value as { code?: unknown }).code === 'string')
  );
}

/** HTTP status for an error code, from {@link ERROR_STATUS}. */
export function httpStatusFor(code: ErrorCode): number {
  return (ERROR_STATUS as Record<string, number>)[code] ?? 500;
}

/** The JSON envelope of a failed request. */
export interface ErrorEnvelope {
  success: false;
  error: { code: string; message: string; details?: unknown };
}

/**
 * Turns anything thrown into `{ status, body, headers }`. Unknown errors become a bare 500
 * `INTERNAL` whose message reveals nothing (the original is for the host's logger only).
 */
export function toErrorResponse(error: unknown): { status: number; body: ErrorEnvelope; headers: Record<string, string> } {
  // Only the contract's codes go on the wire; any other (PII_DECRYPTION_FAILED, a CLI code…) is
  // a server fault, answered as INTERNAL and left to the error report.
  if (isSwanError(error) && Object.hasOwn(ERROR_STATUS, error.code)) {
    const body: ErrorEnvelope = { success: false, error: { code: error.code, message: error.message } };
    if (error.details !== undefined) body.error.details = error.details;
    return { status: httpStatusFor(error.code), body, headers: { ...(error.headers ?? {}) } };
  }
  return {
    status: 500,
    body: { success: false, error: { code: 'INTERNAL', message: 'Internal server error' } },
    headers: {},
  };
}

/** What some {@link errors} helpers take besides the message: safe details, response headers, the cause. */
export interface ErrorExtras {
  /** Safe-to-show structured details. Never put secrets or PII here. */
  details?: unknown;
  headers?: Record<string, string>;
  /** The underlying error, for the host's logs (never sent to the client). */
  cause?: unknown;
}

/** The codes a master prompt check fails with (all HTTP 400). */
export type SchemaErrorCode = 'MISSING_SCHEMA_VERSION' | 'INCOMPATIBLE_SCHEMA_VERSION' | 'SCHEMA_VALIDATION_FAILED';

const make = (code: ErrorCode, message: string, extras: ErrorExtras = {}) => new SwanError({ code, message, ...extras });

/**
 * The one way Swan packages raise errors: a helper per code, so the code, its status and the
 * shape of its details are chosen in one place.
 *
 * @example
 * ```ts
 * throw errors.notFound('Client not found');
 * throw errors.rateLimited(30, { details: { policy: 'aiQuery' } }); // 429 with Retry-After: 30
 * ```
 */
export const errors = {
  /** 400 `VALIDATION_FAILED`. */
  validation: (message: string, details?: unknown) => make('VALIDATION_FAILED', message, { details }),
  /** 400 `INVALID_JSON`. */
  invalidJson: (message = 'Request body is not valid JSON') => make('INVALID_JSON', message),
  /** 400 `MISSING_SCHEMA_VERSION`, `INCOMPATIBLE_SCHEMA_VERSION` or `SCHEMA_VALIDATION_FAILED`, from a check's failure. */
  schema: (failure: { code: SchemaErrorCode; message: string; details?: unknown }) => make(failure.code, failure.message, { details: failure.details }),
  /** 400 `WEBHOOK_SIGNATURE_INVALID`. */
  webhookSignatureInvalid: (message = 'Webhook signature is missing or invalid') => make('WEBHOOK_SIGNATURE_INVALID', message),
  /** 401 `UNAUTHENTICATED`. */
  unauthenticated: (message = 'Authentication required') => make('UNAUTHENTICATED', message),
  /** 402 `SUBSCRIPTION_REQUIRED`. */
  subscriptionRequired: (message: string, details?: unknown) => make('SUBSCRIPTION_REQUIRED', message, { details }),
  /** 403 `FORBIDDEN`. */
  forbidden: (message = 'Forbidden') => make('FORBIDDEN', message),
  /** 403 `CONSENT_REQUIRED`. */
  consentRequired: (message: string, details?: unknown) => make('CONSENT_REQUIRED', message, { details }),
  /** 403 `RECONSENT_REQUIRED`. */
  reconsentRequired: (message: string, details?: unknown) => make('RECONSENT_REQUIRED', message, { details }),
  /** 403 `PROCESSING_RESTRICTED`: processing of the client's data is restricted (GDPR Art. 18). */
  processingRestricted: (message = 'Processing of this client\'s data is restricted', details?: unknown) => make('PROCESSING_RESTRICTED', message, { details }),
  /** 404 `NOT_FOUND`. */
  notFound: (message = 'Not found', details?: unknown) => make('NOT_FOUND', message, { details }),
  /** 409 `CONFLICT`. */
  conflict: (message: string, details?: unknown) => make('CONFLICT', message, { details }),
  /** 413 `PAYLOAD_TOO_LARGE`. */
  payloadTooLarge: (message = 'Request body is too large', details?: unknown) => make('PAYLOAD_TOO_LARGE', message, { details }),
  /** 429 `RATE_LIMITED` with `Retry-After` (seconds) after any other headers given. */
  rateLimited: (retryAfterSeconds: number, options: { message?: string; details?: unknown; headers?: Record<string, string> } = {}) =>
    make('RATE_LIMITED', options.message ?? 'Too many requests. Please try again later.', {
      details: options.details,
      headers: { ...options.headers, 'Retry-After': String(retryAfterSeconds) },
    }),
  /** 503 `UNAVAILABLE`: a dependency (database, Redis, Stripe…) did not answer; the client may retry. */
  unavailable: (message: string, extras?: ErrorExtras) => make('UNAVAILABLE', message, extras),
  /** `CONFIG_INVALID` (500; raised at startup): a setting is missing or malformed. Never echoes a secret. */
  configInvalid: (message: string, details?: unknown) => make('CONFIG_INVALID', message, { details }),
  /** `PII_KEY_UNAVAILABLE` (500): a key can't be used. Never carries key material or PII. */
  piiKeyUnavailable: (message: string, cause?: unknown) => make('PII_KEY_UNAVAILABLE', message, { cause }),
  /** `PII_DECRYPTION_FAILED` (500): a value failed to decrypt. Never carries the value. */
  piiDecryptionFailed: (message: string) => make('PII_DECRYPTION_FAILED', message),
  /** `INVALID_SERVICE_ROLE` (500): a service role setting is malformed. */
  invalidServiceRole: (message: string) => make('INVALID_SERVICE_ROLE', message),
  /** `UNSAFE_DATABASE_ROLE` (500; raised at startup): the role could read past row-level security. */
  unsafeDatabaseRole: (message: string, details?: unknown) => make('UNSAFE_DATABASE_ROLE', message, { details }),
  /** A migration failure (500; raised by the migrator), e.g. `MIGRATION_CHECKSUM_MISMATCH`. */
  migration: (code: `MIGRATION_${string}`, message: string, details?: unknown) => make(code, message, { details }),
};
