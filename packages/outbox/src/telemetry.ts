import { ROOT_CONTEXT, SpanKind, context, propagation, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';
import { sql, type Kysely } from 'kysely';
import { inSpan, markError, swanInstruments, swanTracer, tracingInstalled } from '@swan/core';

// Spans and metrics of the outbox through @opentelemetry/api (no-ops without an SDK). Events carry
// the W3C trace context of their publisher (column trace_context), so the handler's span joins the
// publisher's trace in whichever process claims the event. Payloads are never recorded.

const SCOPE = '@swan/outbox';

const instruments = swanInstruments(SCOPE, (meter) => ({
  handlerDuration: meter.createHistogram('swan.outbox.handler.duration', {
    description: 'Duration of one run of an event\'s handler (all its steps), by event type and outcome.',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] },
  }),
  events: meter.createObservableGauge('swan.outbox.events', {
    description: 'Outbox events by status: pending (due or scheduled), processing (leased) and dead.',
    unit: '{event}',
  }),
  oldestPendingAge: meter.createObservableGauge('swan.outbox.oldest_pending_age', {
    description: 'Seconds since the oldest due pending event became due (0 when none).',
    unit: 's',
  }),
}));

/** The W3C trace context of `ctx` as stored with an event, or null when nothing is traced. */
export function traceContextOf(ctx = context.active()): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ? JSON.stringify(carrier) : null;
}

const SYSTEM = 'swan_outbox';

/**
 * Runs a publish inside its span (kind PRODUCER, `publish <event type>`), handing `fn` the trace
 * context to store with the events: their handlers' spans become children of this one.
 */
export function tracePublish<T extends { eventId: string }[]>(eventTypes: readonly string[], fn: (traceContext: string | null) => Promise<T>): Promise<T> {
  const types = [...new Set(eventTypes)];
  const name = types.length === 1 ? `publish ${types[0]}` : 'publish';
  const attributes: Attributes = { 'messaging.system': SYSTEM, 'messaging.operation.type': 'send', 'messaging.operation.name': 'publish' };
  if (types.length === 1) attributes['messaging.destination.name'] = types[0];
  if (eventTypes.length > 1) attributes['messaging.batch.message_count'] = eventTypes.length;
  return inSpan(swanTracer(SCOPE), name, { kind: SpanKind.PRODUCER, attributes }, async (span) => {
    const results = await fn(traceContextOf());
    if (results.length === 1 && span.isRecording()) span.setAttribute('messaging.message.id', results[0]!.eventId);
    return results;
  });
}

/** What the worker knows of the event it handles. */
interface HandledEvent {
  eventId: string;
  eventType: string;
  attempts: number;
  traceContext?: string | null;
}

function outcomeOf(error: unknown): string {
  const e = error as { unavailable?: unknown; permanent?: unknown } | null;
  return e?.unavailable === true ? 'deferred' : e?.permanent === true ? 'dead' : 'failed';
}

function publisherContext(event: HandledEvent) {
  if (!event.traceContext) return ROOT_CONTEXT;
  try {
    return propagation.extract(ROOT_CONTEXT, JSON.parse(event.traceContext) as Record<string, string>);
  } catch {
    return ROOT_CONTEXT;
  }
}

/** The span of one handler run and the context its steps run in. */
export interface HandleSpan {
  span: Span;
  context: Context;
}

/**
 * Starts the span of one event's handler run (kind CONSUMER, `process <event type>`): a child of
 * the publisher's span and linked to it (`messaging.message.id` = the event id), however many
 * processes lie between them. Undefined when no tracing SDK is installed and the event carries
 * no trace context: nothing would be recorded or propagated, so the worker runs the handler
 * without a span (a no-op span costs more than dispatching a quick handler).
 */
export function startHandleSpan(event: HandledEvent): HandleSpan | undefined {
  if (!event.traceContext && !tracingInstalled()) return undefined;
  const parent = publisherContext(event);
  const publisher = trace.getSpanContext(parent);
  const links: Link[] = publisher ? [{ context: publisher, attributes: { 'messaging.message.id': event.eventId } }] : [];
  // one literal: spreading a shared object into an object of dotted keys costs microseconds per event
  const attributes: Attributes = {
    'messaging.system': SYSTEM,
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': event.eventType,
    'messaging.message.id': event.eventId,
    'swan.outbox.attempt': event.attempts + 1,
  };
  const span = swanTracer(SCOPE).startSpan(`process ${event.eventType}`, { kind: SpanKind.CONSUMER, attributes, links }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

// Metric attributes by event type and outcome, made once (recording allocates nothing per run).
const outcomeAttributes = new Map<string, Record<string, Attributes>>();
function attributesOf(eventType: string, outcome: string): Attributes {
  let byOutcome = outcomeAttributes.get(eventType);
  if (!byOutcome) {
    byOutcome = {};
    // '*' handlers see any type: keep the cache bounded
    if (outcomeAttributes.size < 1000) outcomeAttributes.set(eventType, byOutcome);
  }
  return (byOutcome[outcome] ??= { event_type: eventType, outcome });
}

/**
 * Ends one handler run: ends its span (marked failed with the error's type when `failed`) and
 * records `swan.outbox.handler.duration` with `event_type` and `outcome` (`completed`, `failed`,
 * `deferred` for an unavailable dependency, `dead` for a permanent error).
 */
export function endHandle(handle: HandleSpan | undefined, eventType: string, startMs: number, failed: boolean, error?: unknown): void {
  if (handle) {
    if (failed) markError(handle.span, error);
    handle.span.end();
  }
  instruments().handlerDuration.record((performance.now() - startMs) / 1000, attributesOf(eventType, failed ? outcomeOf(error) : 'completed'));
}

/** Adds the active span's W3C trace context to a relayed message's headers (NATS `MsgHdrs`). */
export function injectTraceHeaders(headers: { set(key: string, value: string): void }): void {
  propagation.inject(context.active(), headers, { set: (carrier, key, value) => carrier.set(key, value) });
}

/**
 * Observes the outbox gauges on every metrics collection until the returned function is called:
 * `swan.outbox.events` by `status` (`pending`, `processing`, `dead`) and
 * `swan.outbox.oldest_pending_age` (seconds). One small query per collection, over the partial
 * indexes of the live rows (completed events are not counted). Call it once per process; install
 * the metrics SDK first.
 *
 * @example
 * ```ts
 * const stop = observeOutbox(db);
 * process.on('SIGTERM', stop);
 * ```
 */
export function observeOutbox(db: Kysely<any>): () => void {
  const { events, oldestPendingAge } = instruments();
  let last: Promise<{ pending: number; processing: number; dead: number; age: number } | null> | null = null;
  // both gauges of one collection (their callbacks run together) share the query in flight
  const read = () => (last ??= sql<{ pending: string | number; processing: string | number; dead: string | number; age: string | number | null }>`
      select (select count(*) from swan_outbox where status = 'pending') as pending,
             (select count(*) from swan_outbox where status = 'processing') as processing,
             (select count(*) from swan_outbox where status = 'dead') as dead,
             (select extract(epoch from now() - min(scheduled_for)) from swan_outbox
               where status = 'pending' and scheduled_for <= now()) as age`.execute(db)
    .then(({ rows: [r] }) => ({ pending: Number(r?.pending ?? 0), processing: Number(r?.processing ?? 0), dead: Number(r?.dead ?? 0), age: Math.max(0, Number(r?.age ?? 0)) }))
    .catch(() => null)
    .finally(() => {
      last = null;
    }));
  const onEvents = async (result: { observe(value: number, attributes?: Attributes): void }) => {
    const s = await read();
    if (!s) return;
    result.observe(s.pending, { status: 'pending' });
    result.observe(s.processing, { status: 'processing' });
    result.observe(s.dead, { status: 'dead' });
  };
  const onAge = async (result: { observe(value: number): void }) => {
    const s = await read();
    if (s) result.observe(s.age);
  };
  events.addCallback(onEvents);
  oldestPendingAge.addCallback(onAge);
  return () => {
    events.removeCallback(onEvents);
    oldestPendingAge.removeCallback(onAge);
  };
}
