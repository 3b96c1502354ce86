import { AsyncLocalStorage } from 'node:async_hooks';
import twilio from 'twilio';
import { traceTwilioRequest } from './telemetry.js';

/** The SDK client (`twilio(accountSid, authToken, opts)`). */
export type TwilioClient = ReturnType<typeof twilio>;

/** What the SDK hands an `httpClient` (the subset we use of its `RequestClient.RequestOptions`). */
export interface TwilioHttpRequest {
  method: string;
  uri: string;
  username?: string;
  password?: string;
  headers?: Record<string, string>;
  params?: object;
  data?: object;
  timeout?: number;
  [key: string]: unknown;
}

/** What an `httpClient` answers: Twilio's status, JSON body (string or object) and headers. */
export interface TwilioHttpResponse {
  statusCode: number;
  body: unknown;
  headers?: Record<string, unknown>;
}

/** The SDK's `httpClient` contract: `request(opts)` resolving to `{ statusCode, body, headers }`. */
export interface TwilioHttpClient {
  request(options: TwilioHttpRequest): Promise<TwilioHttpResponse>;
}

/**
 * Header carrying the outbox event id on every API call made for that event.
 *
 * @example
 * ```ts
 * request.headers[IDEMPOTENCY_HEADER]; // the event id
 * ```
 */
export const IDEMPOTENCY_HEADER = 'I-Twilio-Idempotency-Token';

const idempotency = new AsyncLocalStorage<string>();

/**
 * Runs `fn` so that every Twilio API call it makes carries `key` in the
 * `I-Twilio-Idempotency-Token` header (through the client of {@link createTwilioClient}).
 *
 * @example
 * ```ts
 * await withIdempotencyKey(event.eventId, () => client.messages.create({ to, from, body }));
 * ```
 */
export function withIdempotencyKey<T>(key: string, fn: () => Promise<T>): Promise<T> {
  return idempotency.run(key, fn);
}

export interface TwilioClientOptions {
  accountSid: string;
  authToken: string;
  /**
   * Another API origin (`TWILIO_API_BASE`, e.g. `http://127.0.0.1:4010` for a local mock): every
   * request's `https://<product>.twilio.com` origin is replaced by it, path and query kept.
   */
  apiBase?: string;
  /** The transport (default: the SDK's own `RequestClient`); tests pass a fake Twilio API here. */
  httpClient?: TwilioHttpClient;
  /** Request timeout of the default transport in ms (default 10 s). */
  timeoutMs?: number;
}

/**
 * The official Twilio SDK client, with a transport that adds the idempotency header (see
 * {@link withIdempotencyKey}) and, when `apiBase` is set, sends requests to that origin. The SDK's
 * own automatic retries stay off: the outbox retries with backoff.
 *
 * @example
 * ```ts
 * const client = createTwilioClient({ accountSid: env.TWILIO_ACCOUNT_SID!, authToken: env.TWILIO_AUTH_TOKEN!, apiBase: env.TWILIO_API_BASE });
 * ```
 */
export function createTwilioClient(options: TwilioClientOptions): TwilioClient {
  const inner: TwilioHttpClient = options.httpClient
    ?? (new twilio.RequestClient({ timeout: options.timeoutMs ?? 10_000, autoRetry: false }) as unknown as TwilioHttpClient);
  const base = options.apiBase ? new URL(options.apiBase) : null;
  const httpClient: TwilioHttpClient = {
    request(req) {
      const key = idempotency.getStore();
      let uri = req.uri;
      if (base) {
        const u = new URL(req.uri);
        uri = `${base.origin}${base.pathname.replace(/\/$/, '')}${u.pathname}${u.search}`;
      }
      const headers = key ? { ...req.headers, [IDEMPOTENCY_HEADER]: key } : req.headers;
      return traceTwilioRequest(req.method, uri, () => inner.request({ ...req, uri, ...(headers ? { headers } : {}) }));
    },
  };
  return twilio(options.accountSid, options.authToken, { httpClient: httpClient as never, autoRetry: false });
}

/**
 * Twilio error codes that no retry can fix: the recipient can't or won't receive the SMS.
 *
 * @example
 * ```ts
 * PERMANENT_TWILIO_CODES[21211]; // 'invalid To number'
 * ```
 */
export const PERMANENT_TWILIO_CODES: Readonly<Record<number, string>> = {
  21211: 'invalid To number',
  21214: 'To number cannot be reached',
  21217: 'phone number does not appear to be valid',
  21401: 'invalid phone number',
  21407: 'number type not supported',
  21408: 'permission to send to this region is not enabled',
  21421: 'phone number is invalid',
  21610: 'recipient has unsubscribed (replied STOP)',
  21612: 'cannot route to this number',
  21614: 'To number is not a mobile number',
};

/**
 * Twilio's code for a recipient who replied STOP to our number.
 *
 * @example
 * ```ts
 * if (classifyTwilioError(e).code === TWILIO_UNSUBSCRIBED) markOptedOut();
 * ```
 */
export const TWILIO_UNSUBSCRIBED = 21610;

/** How a failed Twilio call is handled. */
export interface TwilioFailure {
  /** `retry`: 429, 5xx, network errors, timeouts. `permanent`: dead-letter at once. */
  kind: 'retry' | 'permanent';
  status: number | null;
  code: number | null;
  /** Safe to log: status, code and Twilio's short reason, never the number or text. */
  reason: string;
}

/**
 * Classifies an error thrown by the SDK: the recipient codes of {@link PERMANENT_TWILIO_CODES} and
 * every other 4xx except 429 are permanent (the same request can't succeed later); 429, 5xx and
 * transport errors (no HTTP status) are retried with backoff.
 *
 * @example
 * ```ts
 * classifyTwilioError(err); // { kind: 'permanent', status: 400, code: 21610, reason: 'Twilio 400/21610: recipient has unsubscribed (replied STOP)' }
 * ```
 */
export function classifyTwilioError(error: unknown): TwilioFailure {
  const e = (error ?? {}) as { status?: unknown; code?: unknown };
  const status = typeof e.status === 'number' ? e.status : null;
  const code = typeof e.code === 'number' ? e.code : null;
  const known = code !== null ? PERMANENT_TWILIO_CODES[code] : undefined;
  const label = `Twilio ${status ?? 'network'}${code !== null ? `/${code}` : ''}`;
  if (known) return { kind: 'permanent', status, code, reason: `${label}: ${known}` };
  if (status === null) {
    // transport errors: their message (ECONNREFUSED, timeout) holds no number or text
    const detail = error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 200) : 'request failed';
    return { kind: 'retry', status, code, reason: `${label}: ${detail}` };
  }
  if (status === 429 || status >= 500) return { kind: 'retry', status, code, reason: `${label}: temporarily unavailable` };
  return { kind: 'permanent', status, code, reason: `${label}: request rejected` };
}
