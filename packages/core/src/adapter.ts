import { parse as parseForm } from 'node:querystring';
import { errors, isSwanError, toErrorResponse } from './errors.js';
import { runGuards } from './guard.js';
import type { ActorResolver, Guard, GuardContext, Route, SwanRequest, SwanResponse } from './http.js';
import { traceRoute } from './telemetry.js';

// The framework-independent half of every adapter: @swan/express and @swan/fastify only read
// their framework's request into a FrameworkRequest and write a RenderedResponse back.

/** Where an error happened, for the host's logger (no headers, no body: nothing secret). */
export interface ErrorInfo {
  method: string;
  path: string;
}

/** Options every adapter takes. */
export interface AdapterOptions {
  /** Resolves the caller: `null` without credentials, throws `UNAUTHENTICATED` for bad ones. */
  actor: ActorResolver;
  /** Public origin (e.g. `PUBLIC_URL`); `req.url` is built from it instead of the Host header. */
  publicUrl?: string;
  /** Called for every 5xx (unexpected errors included) so the host can log it. */
  onError?: (error: unknown, request: ErrorInfo) => void;
}

/** What an adapter reads from its framework to build a {@link SwanRequest}. */
export interface FrameworkRequest {
  method: string;
  /** Path and query as received. */
  originalUrl: string;
  /** `protocol://host` as the framework sees it (used when there is no `publicUrl`). */
  origin: string;
  params: unknown;
  query: unknown;
  headers: Record<string, string | string[] | undefined>;
  /** What the framework's body parser produced (a Buffer for raw and form routes). */
  body: unknown;
  ip: string;
}

const first = (value: unknown): string | undefined =>
  Array.isArray(value) ? first(value[0]) : typeof value === 'string' ? value : undefined;

/** Method and path of a request, for {@link AdapterOptions.onError}. */
export function errorInfoOf(input: Pick<FrameworkRequest, 'method' | 'originalUrl'>): ErrorInfo {
  return { method: input.method, path: input.originalUrl.split('?')[0] ?? '/' };
}

/**
 * Builds the framework-free request. `kind` is the route's body kind; `undefined` for a host
 * app's own route (the body as the host parsed it).
 *
 * @example
 * ```ts
 * const req = toSwanRequest({ method, originalUrl, origin, params, query, headers, body, ip }, 'json', process.env.PUBLIC_URL);
 * ```
 */
export function toSwanRequest(input: FrameworkRequest, kind?: Route['body'], publicUrl?: string): SwanRequest {
  const bytes = Buffer.isBuffer(input.body) ? input.body : undefined;
  // Headers, query, URL and IP are built on first use: a guard that reads only the caller and
  // one header (a rate limit) does not pay for the rest.
  let headers: SwanRequest['headers'] | undefined;
  let query: SwanRequest['query'] | undefined;
  let url: string | undefined;
  let ip: string | undefined;
  return {
    method: input.method,
    path: errorInfoOf(input).path,
    get url() {
      return (url ??= `${publicUrl ? originOf(publicUrl) : input.origin}${input.originalUrl}`);
    },
    set url(value) { url = value; },
    params: { ...(input.params as Record<string, string>) },
    get query() {
      if (!query) {
        query = {};
        for (const [name, value] of Object.entries((input.query ?? {}) as Record<string, unknown>)) query[name] = first(value);
      }
      return query;
    },
    set query(value) { query = value; },
    get headers() {
      if (!headers) {
        headers = {};
        for (const [name, value] of Object.entries(input.headers)) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
      }
      return headers;
    },
    set headers(value) { headers = value; },
    body: kind === 'form' && bytes ? { ...parseForm(bytes.toString('utf8')) } : bytes || kind === 'none' ? undefined : input.body,
    ...(bytes ? { rawBody: bytes } : {}),
    actor: null,
    get ip() { return (ip ??= input.ip); },
    set ip(value) { ip = value; },
  };
}

const origins = new Map<string, string>();
/** The origin of a configured public URL, parsed once. */
function originOf(publicUrl: string): string {
  let origin = origins.get(publicUrl);
  if (origin === undefined) origins.set(publicUrl, (origin = new URL(publicUrl).origin));
  return origin;
}

/**
 * The whole route contract: authentication (401 without an actor), the role check (403), the
 * guards in order, then the handler, inside the route's span (see {@link traceRoute}).
 *
 * @example
 * ```ts
 * const response = await runRoute(route, req, options.actor, { setHeader: (n, v) => res.setHeader(n, v) });
 * ```
 */
export function runRoute(route: Route, req: SwanRequest, resolveActor: ActorResolver, ctx: GuardContext): Promise<SwanResponse> {
  return traceRoute(route, req, async () => {
    if (route.access !== 'public') {
      const actor = await resolveActor(req);
      if (!actor) throw errors.unauthenticated();
      if (route.access !== 'authenticated' && !route.access.includes(actor.role)) throw errors.forbidden();
      req.actor = actor;
    }
    await runGuards(route.guards ?? [], req, ctx);
    return route.handler(req);
  });
}

/**
 * Serves one request of a route end to end: builds the request (with the route's body kind),
 * runs the route contract, and renders the response, or the error envelope (5xx reported to
 * `onError`). All an adapter's route handler does besides reading and writing its framework.
 *
 * @example
 * ```ts
 * write(res, await serveRoute(route, frameworkRequest(req), guardContext(res), options));
 * ```
 */
export async function serveRoute(route: Route, input: FrameworkRequest, ctx: GuardContext, options: AdapterOptions): Promise<RenderedResponse> {
  try {
    const req = toSwanRequest(input, route.body ?? 'json', options.publicUrl);
    return renderResponse(await runRoute(route, req, options.actor, ctx));
  } catch (error) {
    return renderError(error, errorInfoOf(input), options.onError);
  }
}

/**
 * Runs a guard on a host app's own route: builds the request (the body as the host parsed it),
 * resolves the caller when `options.actor` is given (else `req.actor` is `null`), runs the guard.
 * Returns the rendered rejection, or `undefined` when the request may go on.
 *
 * @example
 * ```ts
 * const rejected = await runHostGuard(guard, frameworkRequest(req), guardContext(res), options);
 * if (rejected) write(res, rejected); else next();
 * ```
 */
export async function runHostGuard(
  guard: Guard,
  input: FrameworkRequest,
  ctx: GuardContext,
  options: Partial<AdapterOptions>,
): Promise<RenderedResponse | undefined> {
  try {
    const req = toSwanRequest(input, undefined, options.publicUrl);
    req.actor = options.actor ? await options.actor(req) : null;
    await guard(req, ctx);
    return undefined;
  } catch (error) {
    return renderError(error, errorInfoOf(input), options.onError);
  }
}

/** What went wrong in a framework before a route ran, as the adapter recognised it. */
export type FrameworkFailure = 'body-too-large' | 'invalid-json' | 'malformed-url';

/**
 * Maps a framework's own error to the contract: a `SwanError` as is; `body-too-large` → 413
 * `PAYLOAD_TOO_LARGE`; `invalid-json` → 400 `INVALID_JSON`; `malformed-url` → 400
 * `VALIDATION_FAILED`; any other 4xx `status` → 400 `VALIDATION_FAILED` (the body could not be
 * read); anything else unchanged (answered as 500 `INTERNAL`).
 *
 * @example
 * ```ts
 * fromFrameworkError(error, error.type === 'entity.too.large' ? 'body-too-large' : undefined, error.status);
 * ```
 */
export function fromFrameworkError(error: unknown, failure: FrameworkFailure | undefined, status: unknown): unknown {
  if (isSwanError(error)) return error;
  if (failure === 'body-too-large') return errors.payloadTooLarge();
  if (failure === 'invalid-json') return errors.invalidJson();
  if (failure === 'malformed-url') return errors.validation('The request URL is malformed');
  if (typeof status === 'number' && status >= 400 && status < 500) return errors.validation('Request body could not be read');
  return error;
}

/**
 * The 404 `NOT_FOUND` envelope for a request no route matched.
 *
 * @example
 * ```ts
 * app.use((req, res) => write(res, notFoundResponse()));
 * ```
 */
export function notFoundResponse(): RenderedResponse {
  return renderError(errors.notFound('Route not found'), { method: '', path: '' });
}

/** What goes on the wire; `payload` is absent for an empty body. */
export interface RenderedResponse {
  status: number;
  headers: Record<string, string>;
  contentType: string;
  payload?: string | Buffer;
}

/**
 * Serializes a response: a string or Buffer body is sent as is when it has a `contentType`,
 * anything else as JSON.
 *
 * @example
 * ```ts
 * const { status, headers, contentType, payload } = renderResponse({ status: 200, body: { success: true } });
 * ```
 */
export function renderResponse(response: SwanResponse): RenderedResponse {
  const raw = response.contentType !== undefined && (typeof response.body === 'string' || Buffer.isBuffer(response.body));
  const payload = response.body === undefined ? undefined : raw ? (response.body as string | Buffer) : JSON.stringify(response.body);
  return {
    status: response.status,
    headers: response.headers ?? {},
    contentType: response.contentType ?? 'application/json; charset=utf-8',
    ...(payload === undefined ? {} : { payload }),
  };
}

/**
 * Renders any error as the envelope and reports 5xx to `onError`.
 *
 * @example
 * ```ts
 * write(renderError(error, errorInfoOf(req), options.onError));
 * ```
 */
export function renderError(error: unknown, info: ErrorInfo, onError?: AdapterOptions['onError']): RenderedResponse {
  const response = toErrorResponse(error);
  if (response.status >= 500) onError?.(error, info);
  return renderResponse(response);
}
