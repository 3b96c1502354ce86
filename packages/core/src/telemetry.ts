import { context, metrics, propagation, trace, ProxyTracerProvider, SpanKind, SpanStatusCode, type Attributes, type Context, type Meter, type Span, type SpanOptions, type TextMapGetter, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { sql, type Kysely } from 'kysely';
import { httpStatusFor, isSwanError } from './errors.js';
import type { Route, SwanRequest, SwanResponse } from './http.js';

// Observability through @opentelemetry/api only: without an SDK installed by the host, every span
// and instrument below is a no-op. Nothing here ever records a header value, a body, a query value
// or PII.

const SCOPE = '@swan/core';

/**
 * Instruments of one instrumentation scope, built from the global `MeterProvider` on first use
 * and rebuilt when the host installs (or replaces) its SDK later: the metrics API, unlike the
 * trace API, has no proxy, so instruments made before the SDK was installed would stay no-ops.
 *
 * @example
 * ```ts
 * const instruments = swanInstruments('@swan/outbox', (meter) => ({ published: meter.createCounter('swan.outbox.events.published') }));
 * instruments().published.add(1, { 'swan.event.type': 'consent_granted' });
 * ```
 */
export function swanInstruments<T>(scope: string, build: (meter: Meter) => T): () => T {
  let provider: unknown;
  let cached: T | undefined;
  return () => {
    const current = metrics.getMeterProvider();
    if (current !== provider || cached === undefined) {
      provider = current;
      cached = build(current.getMeter(scope));
    }
    return cached;
  };
}

// Tracers by scope, kept while the global tracer provider stays the same object: before an SDK is
// installed they are the API's proxies, which follow an SDK installed later on their own;
// `trace.disable()` replaces the provider, and the next use makes them again.
let tracersOf: TracerProvider | undefined;
const tracers = new Map<string, Tracer>();

/**
 * The tracer of an instrumentation scope (an SDK installed later is picked up).
 *
 * @example
 * ```ts
 * const span = swanTracer('@swan/billing').startSpan('stripe POST /v1/billing_portal/sessions');
 * ```
 */
export function swanTracer(scope: string): Tracer {
  const provider = trace.getTracerProvider();
  if (provider !== tracersOf) {
    tracersOf = provider;
    tracers.clear();
  }
  let tracer = tracers.get(scope);
  if (!tracer) tracers.set(scope, (tracer = provider.getTracer(scope)));
  return tracer;
}

// What a provider without an SDK delegates to: the API's no-op provider, one object per copy of
// @opentelemetry/api.
const NO_SDK = new ProxyTracerProvider().getDelegate();

/**
 * Whether a tracing SDK is installed now. Without one every span is a no-op: a hot path may skip
 * building it (its name, attributes and context) when nothing would be propagated either.
 *
 * @example
 * ```ts
 * if (tracingInstalled()) span = swanTracer('@swan/outbox').startSpan('process', { attributes });
 * ```
 */
export function tracingInstalled(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider && provider.getDelegate() === NO_SDK);
}

/**
 * Runs `fn` inside a new active span: ends it when `fn` settles, marks it as an error (with the
 * error's name and code, never its message) when `fn` throws.
 *
 * @example
 * ```ts
 * await inSpan(swanTracer('@swan/pii'), 'pii read', { attributes: { 'swan.pii.purpose': 'session_planning' } }, () => read());
 * ```
 */
export async function inSpan<T>(tracer: Tracer, name: string, options: SpanOptions, fn: (span: Span) => Promise<T>, parent: Context = context.active()): Promise<T> {
  const span = tracer.startSpan(name, options, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    markError(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Marks a span failed with the error's type (its code, or its class name); no message, no stack. */
export function markError(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const code = (error as { code?: unknown } | null)?.code;
  const type = typeof code === 'string' ? code : error instanceof Error ? error.name : 'Error';
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

// ------------------------------------------------------------------ HTTP routes

const http = swanInstruments(SCOPE, (meter) => ({
  duration: meter.createHistogram('http.server.request.duration', {
    description: 'Duration of HTTP server requests (from the route contract to the response), by route and status.',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] },
  }),
}));

// Headers are read only when a propagator asks (the no-op one never does): a request that no
// SDK traces keeps its lazily built headers unbuilt.
const headerGetter: TextMapGetter<SwanRequest> = {
  get: (req, key) => req.headers[key.toLowerCase()],
  keys: (req) => Object.keys(req.headers),
};

function statusOf(error: unknown): number {
  return isSwanError(error) ? httpStatusFor(error.code) : 500;
}

/**
 * Runs one request of a route inside its span (`GET /api/clients/:clientId/pii`, kind SERVER, or
 * INTERNAL under a span the host's HTTP instrumentation already started; a W3C `traceparent`
 * header continues the caller's trace) and records `http.server.request.duration` with
 * `http.request.method`, `http.route`, `http.response.status_code` and, for 5xx, `error.type`.
 * `runRoute` calls it; adapters need nothing else.
 *
 * @example
 * ```ts
 * return traceRoute(route, req, async () => route.handler(req));
 * ```
 */
export async function traceRoute(route: Route, req: SwanRequest, run: () => Promise<SwanResponse>): Promise<SwanResponse> {
  const start = performance.now();
  const active = context.active();
  const nested = trace.getSpan(active) !== undefined;
  const parent = nested ? active : propagation.extract(active, req, headerGetter);
  const attributes: Attributes = { 'http.request.method': route.method, 'http.route': route.path };
  const span = swanTracer(SCOPE).startSpan(`${route.method} ${route.path}`, { kind: nested ? SpanKind.INTERNAL : SpanKind.SERVER, attributes }, parent);
  if (span.isRecording()) {
    const requestId = req.headers['x-request-id'];
    if (requestId) span.setAttribute('http.request.header.x-request-id', [requestId]);
  }
  let status = 500;
  let errorType: string | undefined;
  try {
    const response = await context.with(trace.setSpan(parent, span), run);
    status = response.status;
    return response;
  } catch (error) {
    status = statusOf(error);
    if (status >= 500) errorType = isSwanError(error) ? error.code : error instanceof Error ? error.name : 'Error';
    else if (isSwanError(error)) span.setAttribute('swan.error.code', error.code);
    throw error;
  } finally {
    span.setAttribute('http.response.status_code', status);
    if (status >= 500) {
      errorType ??= String(status);
      span.setAttribute('error.type', errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    }
    span.end();
    http().duration.record((performance.now() - start) / 1000, {
      ...attributes,
      'http.response.status_code': status,
      ...(errorType ? { 'error.type': errorType } : {}),
    });
  }
}

// ------------------------------------------------------------------ audit chain

const audit = swanInstruments(SCOPE, (meter) => ({
  unchained: meter.createObservableGauge('swan.core.audit.unchained', {
    description: 'Audit entries committed but not yet linked into the hash chain.',
    unit: '{entry}',
  }),
}));

/**
 * Observes `swan.core.audit.unchained` (audit entries waiting to be chained) on every metrics
 * collection until the returned function is called. `startAuditChainer` calls it; the count only
 * looks at entries of transactions at or after the chain's horizon (older ones are all linked).
 *
 * @example
 * ```ts
 * const stop = observeAuditBacklog(db);
 * // …
 * stop();
 * ```
 */
export function observeAuditBacklog(db: Kysely<any>): () => void {
  const { unchained } = audit();
  const callback = async (result: { observe(value: number): void }) => {
    try {
      const { rows } = await sql<{ n: number | string }>`
        select count(*) as n from swan_audit_log l
         where l.txid >= coalesce((select horizon from swan_audit_head), '0'::xid8)
           and not exists (select 1 from swan_audit_chain c where c.entry_id = l.id)`.execute(db);
      result.observe(Number(rows[0]?.n ?? 0));
    } catch {
      // the database is unreachable or closed: no observation this time
    }
  };
  unchained.addCallback(callback);
  return () => unchained.removeCallback(callback);
}
