import { parse as parseForm } from 'node:querystring';
import { errors, toErrorResponse } from './errors.js';
import type { ActorResolver, GuardContext, Route, SwanRequest, SwanResponse } from './http.js';
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
    for (const guard of route.guards ?? []) await guard(req, ctx);
    return route.handler(req);
  });
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
