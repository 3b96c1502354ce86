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

/** Shorthands for the errors every package raises. */
export const errors = {
  validation: (message: string, details?: unknown) => new SwanError({ code: 'VALIDATION_FAILED', message, details }),
  notFound: (message = 'Not found') => new SwanError({ code: 'NOT_FOUND', message }),
  forbidden: (message = 'Forbidden') => new SwanError({ code: 'FORBIDDEN', message }),
  unauthenticated: (message = 'Authentication required') => new SwanError({ code: 'UNAUTHENTICATED', message }),
  conflict: (message: string, details?: unknown) => new SwanError({ code: 'CONFLICT', message, details }),
  unavailable: (message: string) => new SwanError({ code: 'UNAVAILABLE', message }),
};
