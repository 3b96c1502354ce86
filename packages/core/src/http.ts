import type { Actor, Role } from './actor.js';

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
  handler(req: SwanRequest): Promise<SwanResponse>;
}

/** Default JSON body limit of the adapters. */
export const DEFAULT_BODY_LIMIT = 100 * 1024;

/** Resolves the caller from a request; `null` for no credentials, throws `UNAUTHENTICATED` for bad ones. */
export type ActorResolver = (req: Omit<SwanRequest, 'actor'>) => Actor | null | Promise<Actor | null>;

/** A `{ success: true, … }` JSON response. */
export function ok(body: Record<string, unknown> = {}, status = 200, headers?: Record<string, string>): SwanResponse {
  return headers ? { status, body: { success: true, ...body }, headers } : { status, body: { success: true, ...body } };
}
