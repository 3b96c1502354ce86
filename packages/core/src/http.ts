import type { Actor, Role } from './actor.js';
import type { HttpErrorCode } from './errors.js';

/** HTTP methods a route may use. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * A request as routes see it, whatever the framework. Adapters build it; routes never touch
 * Express or Fastify objects.
 */
export interface SwanRequest {
  method: string;
  /** Path without query string, e.g. `/api/clients/7f…/pii`. */
  path: string;
  /** Full URL as the client called it (origin from `PUBLIC_URL` where the host sets one). */
  url: string;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  /** Parsed JSON (or form fields for `body: 'form'`); `undefined` when there was none. */
  body: unknown;
  /** The exact bytes received, for routes with `body: 'raw'` or `'form'` (signature checks). */
  rawBody?: Buffer;
  /** Authenticated caller, `null` on public routes or when no credentials were sent. */
  actor: Actor | null;
  /** Client IP as resolved by the framework (honouring its trusted-proxy setting). */
  ip: string;
}

/** What a handler returns. `body` objects are sent as JSON; strings with their `contentType`. */
export interface SwanResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** For string bodies, e.g. `text/html; charset=utf-8` or `text/xml`. Defaults to JSON. */
  contentType?: string;
}

/** Lets guards add response headers (rate-limit headers) that are sent whatever the outcome. */
export interface GuardContext {
  setHeader(name: string, value: string): void;
}

/**
 * A check that runs before the handler. It denies by throwing a `SwanError`
 * (`FORBIDDEN`, `CONSENT_REQUIRED`, `RATE_LIMITED`, …).
 */
export type Guard = (req: SwanRequest, ctx: GuardContext) => void | Promise<void>;

/** Who may call a route: anyone, any authenticated actor, or the listed roles. */
export type RouteAccess = 'public' | 'authenticated' | readonly Role[];

/**
 * A framework-free route. Packages export lists of these; `@swan/express` and `@swan/fastify`
 * mount them.
 *
 * @example
 * ```ts
 * const ping: Route = {
 *   method: 'GET', path: '/api/ping', access: 'authenticated',
 *   handler: async (req) => ({ status: 200, body: { success: true, actor: req.actor?.id } }),
 * };
 * ```
 */
export interface Route {
  method: HttpMethod;
  /** Express-style path with `:params`. */
  path: string;
  access: RouteAccess;
  /** Run in order after authentication and role checks, before the handler. */
  guards?: readonly Guard[];
  /**
   * How the body is read: `json` (default, limit applies, 400 `INVALID_JSON` when malformed),
   * `raw` (bytes only, for signed webhooks), `form` (urlencoded fields plus the raw bytes), `none`.
   */
  body?: 'json' | 'raw' | 'form' | 'none';
  /** Body size limit in bytes; larger bodies get 413 `PAYLOAD_TOO_LARGE`. Default 100 kB. */
  bodyLimit?: number;
  /** One line saying what the route does (the OpenAPI operation's summary). */
  summary?: string;
  /** Groups in the OpenAPI document, usually the package name (`pii`, `consent`, …). */
  tags?: readonly string[];
  /**
   * JSON Schemas of the request and the success response, for {@link createOpenApiDocument}.
   * They document what the handler accepts; the handler still validates its own input.
   */
  schema?: RouteSchema;
  handler(req: SwanRequest): Promise<SwanResponse>;
}

/**
 * A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1). A schema carrying its own `$schema`
 * and `$id` (the master prompt v3 schema is draft-07) keeps its dialect inside the document.
 */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

/** The success response of a route. */
export interface RouteResponse {
  /** Status of a success (default 200). */
  status?: number;
  /** What the response is (default: the route's summary). */
  description?: string;
  /** Schema of the `application/json` body; omit for a response that is not JSON. */
  body?: JsonSchema;
  /** Schemas of other media types, e.g. `{ 'text/html; charset=utf-8': { type: 'string' } }`. */
  content?: Readonly<Record<string, JsonSchema>>;
}

/**
 * Request and response schemas of a route. `params`, `query` and `headers` are object schemas whose
 * properties are the parameters (`required` lists the mandatory query parameters and headers).
 * {@link createOpenApiDocument} refuses a documented route whose `params` do not name exactly the
 * path's `:params`, or whose body is not stated: a `POST`, `PUT`, `PATCH` or `DELETE` route that
 * reads a body (any `body` mode but `'none'`) must give `body`, `null` when it ignores the body.
 */
export interface RouteSchema {
  /** Path parameters: required when the path has `:params`, one property per parameter. */
  params?: JsonSchema;
  /** Query parameters the handler reads. */
  query?: JsonSchema;
  /** Request headers the handler reads, e.g. a webhook's signature header. */
  headers?: JsonSchema;
  /** Request body; `null` for a route that reads none. */
  body?: JsonSchema | null;
  /** Media type of `body`: default `application/json`, `application/x-www-form-urlencoded` for `body: 'form'`. */
  bodyContentType?: string;
  /** The success response. */
  response: RouteResponse;
  /**
   * Error codes the handler raises beyond those the document derives from the route itself
   * (`UNAUTHENTICATED`/`FORBIDDEN` from `access`, `VALIDATION_FAILED` from schemas, `INVALID_JSON`
   * and `PAYLOAD_TOO_LARGE` from the body mode, guards' codes from {@link documentGuard}).
   */
  errors?: readonly HttpErrorCode[];
}

/**
 * A route with its documentation: what every package's route list returns, so a new route can't
 * leave out its summary, tags or schemas. `Route` keeps them optional for host apps' and tests'
 * ad-hoc routes, which {@link createOpenApiDocument} still lists, marked `x-undocumented`.
 *
 * @example
 * ```ts
 * const ping: DocumentedRoute = {
 *   method: 'GET', path: '/api/ping/:id', access: 'authenticated', summary: 'Echo an id', tags: ['ping'],
 *   schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } }, response: { body: okSchema({ id: { type: 'string' } }) } },
 *   handler: async (req) => ok({ id: req.params.id }),
 * };
 * ```
 */
export type DocumentedRoute = Route & { summary: string; tags: readonly string[]; schema: RouteSchema };

/** Default JSON body limit of the adapters. */
export const DEFAULT_BODY_LIMIT = 100 * 1024;

/** Resolves the caller from a request; `null` for no credentials, throws `UNAUTHENTICATED` for bad ones. */
export type ActorResolver = (req: Omit<SwanRequest, 'actor'>) => Actor | null | Promise<Actor | null>;

/** A `{ success: true, … }` JSON response. */
export function ok(body: Record<string, unknown> = {}, status = 200, headers?: Record<string, string>): SwanResponse {
  return headers ? { status, body: { success: true, ...body }, headers } : { status, body: { success: true, ...body } };
}
