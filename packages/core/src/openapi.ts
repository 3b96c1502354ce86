import { ERROR_STATUS, type HttpErrorCode } from './errors.js';
import { ROLES } from './actor.js';
import type { Guard, HttpMethod, JsonSchema, Route, RouteSchema } from './http.js';

/** An OpenAPI 3.1 document (the parts {@link createOpenApiDocument} writes; plain JSON). */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: OpenApiInfo;
  servers?: Array<{ url: string; description?: string }>;
  tags: Array<{ name: string }>;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, unknown> };
}

/** The document's `info`: `title` and `version` are required by OpenAPI. */
export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
  [extension: string]: unknown;
}

/** Options of {@link createOpenApiDocument}. */
export interface OpenApiOptions {
  /** `servers` of the document, e.g. `[{ url: 'https://api.example.com' }]`. */
  servers?: Array<{ url: string; description?: string }>;
}

/** What a guard may answer instead of the handler (see {@link documentGuard}). */
export interface GuardDoc {
  /** Error codes the guard raises, e.g. `['RATE_LIMITED']`. */
  errors: readonly HttpErrorCode[];
}

const guardDocs = new WeakMap<Guard, GuardDoc>();

/**
 * Records which errors a guard raises, so that the OpenAPI document lists them on every route the
 * guard protects. Returns the guard itself.
 *
 * @example
 * ```ts
 * const limit = documentGuard(limiter.guard('general'), { errors: ['RATE_LIMITED'] });
 * ```
 */
export function documentGuard<G extends Guard>(guard: G, doc: GuardDoc): G {
  guardDocs.set(guard, doc);
  return guard;
}

/**
 * An object schema of a `{ success: true, … }` body: `success` plus `properties`, all of them
 * required unless `required` lists fewer.
 *
 * @example
 * ```ts
 * const response = { status: 202, body: okSchema({ eventId: { type: 'string', format: 'uuid' } }) };
 * ```
 */
export function okSchema(properties: Record<string, JsonSchema>, required: readonly string[] = Object.keys(properties)): JsonSchema {
  return { type: 'object', required: ['success', ...required], properties: { success: { const: true }, ...properties } };
}

/**
 * An object schema of parameters or a body: `properties`, all of them required unless `required`
 * lists fewer; `additionalProperties` stays open unless `closed`.
 *
 * @example
 * ```ts
 * const params = objectSchema({ clientId: { type: 'string', format: 'uuid' } });
 * ```
 */
export function objectSchema(properties: Record<string, JsonSchema>, required: readonly string[] = Object.keys(properties), closed = false): JsonSchema {
  return { type: 'object', ...(required.length ? { required: [...required] } : {}), properties, ...(closed ? { additionalProperties: false } : {}) };
}

/** `{ success: false, error: { code, message, details? } }`: the envelope of every failed request. */
export const ERROR_ENVELOPE_SCHEMA = {
  type: 'object',
  required: ['success', 'error'],
  properties: {
    success: { const: false },
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', pattern: '^[A-Z][A-Z0-9_]*$', description: 'Contract error code (docs/errors.md)' },
        message: { type: 'string', description: 'For people; never contains secrets or personal data' },
        details: { description: 'Structured, safe-to-show details, e.g. the paths of invalid fields' },
      },
    },
  },
} as const;

const BODY_METHODS: ReadonlySet<HttpMethod> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const PARAM = /:([A-Za-z0-9_]+)/g;

/** `/api/clients/:clientId` → `/api/clients/{clientId}` */
export function openApiPath(path: string): string {
  return path.replace(PARAM, '{$1}');
}

const pathParams = (path: string) => [...path.matchAll(PARAM)].map((m) => m[1]!);

const describe = (route: Route) => `${route.method} ${route.path}`;

interface ObjectLike {
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
}

function asObject(schema: JsonSchema | undefined, route: Route, what: string): ObjectLike {
  if (schema === undefined) return {};
  if (typeof schema !== 'object' || (schema.type !== undefined && schema.type !== 'object')) {
    throw new TypeError(`${describe(route)}: schema.${what} must be an object schema whose properties are the parameters`);
  }
  return schema as ObjectLike;
}

function parameters(route: Route, schema: RouteSchema | undefined): unknown[] {
  const names = pathParams(route.path);
  const out: unknown[] = [];
  const params = asObject(schema?.params, route, 'params');
  if (schema) {
    const declared = Object.keys(params.properties ?? {});
    if (declared.length !== names.length || names.some((n) => !declared.includes(n))) {
      throw new TypeError(`${describe(route)}: schema.params must name exactly the path parameters (${names.join(', ') || 'none'}), got ${declared.join(', ') || 'none'}`);
    }
  }
  for (const name of names) out.push({ name, in: 'path', required: true, schema: params.properties?.[name] ?? { type: 'string' } });
  for (const [where, value] of [['query', schema?.query], ['header', schema?.headers]] as const) {
    const object = asObject(value, route, where === 'header' ? 'headers' : where);
    for (const [name, s] of Object.entries(object.properties ?? {})) {
      const description = typeof s === 'object' && typeof s.description === 'string' ? { description: s.description } : {};
      out.push({ name, in: where, required: object.required?.includes(name) ?? false, ...description, schema: s });
    }
  }
  return out;
}

function requestBody(route: Route, schema: RouteSchema | undefined): unknown {
  const mode = route.body ?? 'json';
  if (!BODY_METHODS.has(route.method) || mode === 'none') return undefined;
  if (!schema) return undefined;
  if (schema.body === undefined) {
    throw new TypeError(`${describe(route)}: schema.body is missing: give the body's schema, or null when the route reads no body`);
  }
  if (schema.body === null) return undefined;
  const type = schema.bodyContentType ?? (mode === 'form' ? 'application/x-www-form-urlencoded' : 'application/json');
  return { required: true, content: { [type]: { schema: schema.body } } };
}

/** Error codes a route may answer: derived from the route, its guards and its schema's `errors`. */
function errorCodes(route: Route, schema: RouteSchema | undefined): HttpErrorCode[] {
  const codes = new Set<HttpErrorCode>();
  if (route.access !== 'public') codes.add('UNAUTHENTICATED');
  if (Array.isArray(route.access)) codes.add('FORBIDDEN');
  const mode = route.body ?? 'json';
  if (BODY_METHODS.has(route.method) && mode !== 'none') {
    if (mode === 'json') codes.add('INVALID_JSON');
    codes.add('PAYLOAD_TOO_LARGE');
  }
  if (schema?.params !== undefined || schema?.query !== undefined || (schema?.body !== undefined && schema.body !== null)) codes.add('VALIDATION_FAILED');
  for (const guard of route.guards ?? []) for (const code of guardDocs.get(guard)?.errors ?? []) codes.add(code);
  for (const code of schema?.errors ?? []) codes.add(code);
  codes.add('INTERNAL');
  return [...codes];
}

function errorResponses(codes: readonly HttpErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, HttpErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, unknown> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status)] = {
      description: list.join(', '),
      ...(list.includes('RATE_LIMITED') ? { headers: { 'Retry-After': { description: 'Seconds until a retry can succeed', schema: { type: 'integer' } } } } : {}),
      content: {
        'application/json': {
          schema: {
            allOf: [{ $ref: '#/components/schemas/Error' }, { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: list } } } } }],
          },
        },
      },
    };
  }
  return out;
}

/** A component name for a schema with an `$id` (its last path segment, without `.json`). */
function componentName(id: string): string {
  const last = id.replace(/[#/]+$/, '').split('/').pop() ?? id;
  return last.replace(/\.json$/, '').replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * Builds an OpenAPI 3.1 document of `routes`: `:params` become `{params}`, the schemas of each
 * route become its parameters, request body and success response; every operation lists the
 * error codes it may answer, grouped by the status of core's one code→status table, each with the
 * shared `Error` envelope. Routes that are not public need a bearer JWT (`bearerAuth`) and carry
 * the roles that may call them in `x-roles`; webhook routes document their signature headers
 * through `schema.headers`. A schema with an `$id` (the master prompt v3 schema) is placed once in
 * `components/schemas` and referenced. A route without `schema` is still listed, with string path
 * parameters and `x-undocumented: true`. Throws a `TypeError` for a documented route whose
 * `params` don't match its path or whose body is left unstated (see {@link RouteSchema}).
 *
 * @example
 * ```ts
 * const doc = createOpenApiDocument([...piiRoutes({ service }), ...consentRoutes(consent)], { title: 'My app', version: '1.0.0' });
 * ```
 */
export function createOpenApiDocument(routes: readonly Route[], info: OpenApiInfo, options: OpenApiOptions = {}): OpenApiDocument {
  const schemas: Record<string, JsonSchema> = { Error: ERROR_ENVELOPE_SCHEMA };
  const byId = new Map<string, string>();
  // schemas with an $id (e.g. the master prompt's), at any depth, go to components once and are
  // referenced: a document may define an $id only once
  const hoist = <T>(value: T): T => {
    if (Array.isArray(value)) return value.map(hoist) as T;
    if (!value || typeof value !== 'object') return value;
    const schema = value as Record<string, unknown>;
    if (typeof schema.$id !== 'string') return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, hoist(v)])) as T;
    let name = byId.get(schema.$id);
    if (!name) {
      name = componentName(schema.$id);
      while (schemas[name]) name = `${name}_`;
      schemas[name] = schema;
      byId.set(schema.$id, name);
    }
    return { $ref: `#/components/schemas/${name}` } as T;
  };

  const paths: OpenApiDocument['paths'] = {};
  const tags = new Set<string>();
  const seen = new Set<string>();
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    if (seen.has(key)) throw new TypeError(`${key} is listed twice`);
    seen.add(key);
    const schema: RouteSchema | undefined = route.schema && hoist(route.schema);
    for (const tag of route.tags ?? []) tags.add(tag);
    const response = schema?.response;
    const content: Record<string, unknown> = {};
    if (response?.body !== undefined) content['application/json'] = { schema: response.body };
    for (const [type, s] of Object.entries(response?.content ?? {})) content[type] = { schema: s };
    const roles = route.access === 'public' ? undefined : route.access === 'authenticated' ? [...ROLES] : [...route.access];
    const body = requestBody(route, schema);
    const parameterList = parameters(route, schema);
    const operation: Record<string, unknown> = {
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: route.summary ?? `${route.method} ${route.path}`,
      ...(route.tags?.length ? { tags: [...route.tags] } : {}),
      ...(parameterList.length ? { parameters: parameterList } : {}),
      ...(body ? { requestBody: body } : {}),
      responses: {
        [String(response?.status ?? 200)]: {
          description: response?.description ?? route.summary ?? 'Success',
          ...(Object.keys(content).length ? { content } : {}),
        },
        ...errorResponses(errorCodes(route, schema)),
      },
      security: roles ? [{ bearerAuth: [] }] : [],
      ...(roles ? { 'x-roles': roles } : {}),
      ...(schema ? {} : { 'x-undocumented': true }),
    };
    const path = openApiPath(route.path);
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info,
    ...(options.servers ? { servers: options.servers } : {}),
    tags: [...tags].sort().map((name) => ({ name })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Bearer token, checked by the host app’s actor resolver' },
      },
    },
  };
}
