import { context, metrics, propagation, trace, SpanKind } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines, type TestDatabase, until as waitUntil } from '@swan/test-utils';
import { createOutbox, createWorker, migrations, observeOutbox, type Outbox } from '@swan/outbox';

/** A reader the test collects from on demand. */
class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const spans = new InMemorySpanExporter();
const reader = new TestReader();

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});
afterAll(() => {
  trace.disable();
  metrics.disable();
  context.disable();
  propagation.disable();
});

async function collect(): Promise<MetricData[]> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
}

const until = (check: () => Promise<boolean> | boolean, ms = 15_000) => waitUntil(check, ms, 'condition', 10);

describe.each(testEngines())('outbox telemetry on $name', (engine) => {
  let t: TestDatabase;
  let outbox: Outbox;
  beforeAll(async () => {
    t = await engine.create([migrations]);
    outbox = createOutbox({ db: t.db, eventTypes: ['traced_test', 'gauge_test'] });
  });
  afterAll(() => t.close());

  it('the handler span continues the publisher\'s trace from the stored trace context, linked by event id; durations by outcome', async () => {
    spans.reset();
    const tracer = trace.getTracer('test');
    const { eventId, traceId } = await tracer.startActiveSpan('request', async (span) => {
      const [r] = await t.db.transaction().execute((trx) => outbox.publishMany(trx, [{ eventType: 'traced_test', payload: { n: 1 } }]));
      span.end();
      return { eventId: r!.eventId, traceId: span.spanContext().traceId };
    });
    // stored with the event, for whichever process claims it
    const { rows: [row] } = await sql<{ trace_context: { traceparent: string } }>`select trace_context from swan_outbox where event_id = ${eventId}::uuid`.execute(t.admin);
    expect(row!.trace_context.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const handlerCounts = async (): Promise<Record<string, number>> => {
      const duration = (await collect()).find((m) => m.descriptor.name === 'swan.outbox.handler.duration');
      return Object.fromEntries((duration?.dataPoints ?? []).filter((p) => p.attributes.event_type === 'traced_test').map((p) => [p.attributes.outcome, (p.value as { count: number }).count]));
    };
    const before = await handlerCounts();
    let runs = 0;
    const worker = createWorker({ db: t.db, handlers: { traced_test: async () => { if (++runs === 1) throw new Error('first run fails'); } }, pollIntervalMs: 20, backoff: { baseMs: 1, capMs: 5 } });
    await worker.start();
    try {
      await until(async () => (await outbox.stats()).byType.traced_test?.completed === 1);
    } finally {
      await worker.stop();
    }
    const finished = spans.getFinishedSpans();
    const publish = finished.find((s) => s.name === 'publish traced_test')!;
    const handled = finished.filter((s) => s.name === 'process traced_test');
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(publish.spanContext().traceId).toBe(traceId);
    expect(publish.attributes).toMatchObject({ 'messaging.system': 'swan_outbox', 'messaging.destination.name': 'traced_test', 'messaging.message.id': eventId });
    expect(handled).toHaveLength(2);
    for (const h of handled) {
      expect(h.kind).toBe(SpanKind.CONSUMER);
      expect(h.spanContext().traceId).toBe(traceId);
      expect(h.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
      expect(h.links.map((l) => l.context.spanId)).toEqual([publish.spanContext().spanId]);
      expect(h.attributes).toMatchObject({ 'messaging.message.id': eventId });
    }
    expect(handled.map((h) => h.status.code)).toEqual([2, 0]); // ERROR, then UNSET
    expect(JSON.stringify(finished.map((s) => s.attributes))).not.toContain('"n":1');

    const counts = await handlerCounts();
    expect({ failed: counts.failed! - (before.failed ?? 0), completed: counts.completed! - (before.completed ?? 0) }).toEqual({ failed: 1, completed: 1 });
  });

  it('without a tracing SDK a handler runs outside any span and its duration is still recorded; an SDK installed later traces the next runs', async () => {
    const completed = async () => {
      const duration = (await collect()).find((m) => m.descriptor.name === 'swan.outbox.handler.duration');
      const point = (duration?.dataPoints ?? []).find((p) => p.attributes.event_type === 'untraced_test' && p.attributes.outcome === 'completed');
      return (point?.value as { count: number } | undefined)?.count ?? 0;
    };
    const before = await completed();
    const seen: { active: boolean }[] = [];
    const worker = createWorker({ db: t.db, handlers: { untraced_test: async () => { seen.push({ active: trace.getActiveSpan() !== undefined }); } }, pollIntervalMs: 20 });
    const untraced = createOutbox({ db: t.db, eventTypes: ['untraced_test'] });
    const publishOne = () => t.db.transaction().execute((trx) => untraced.publish(trx, { eventType: 'untraced_test', payload: {} }));
    spans.reset();
    trace.disable();
    await worker.start();
    try {
      await publishOne();
      await until(() => seen.length === 1);
      expect(seen[0]).toEqual({ active: false });
      await until(async () => (await completed()) === before + 1);

      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
      await publishOne();
      await until(() => seen.length === 2);
      expect(seen[1]).toEqual({ active: true });
      await until(() => spans.getFinishedSpans().some((s) => s.name === 'process untraced_test'));
      expect(await completed()).toBe(before + 2);
    } finally {
      await worker.stop();
      trace.disable();
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
    }
  });

  it('observeOutbox reports pending, processing and dead, and the age of the oldest due event, until stopped', async () => {
    const stop = observeOutbox(t.db);
    const gauges = async () => {
      const all = await collect();
      const events = all.find((m) => m.descriptor.name === 'swan.outbox.events');
      const age = all.find((m) => m.descriptor.name === 'swan.outbox.oldest_pending_age');
      return {
        byStatus: Object.fromEntries((events?.dataPoints ?? []).map((p) => [p.attributes.status, p.value])),
        age: age?.dataPoints[0]?.value as number | undefined,
      };
    };
    const before = await gauges();
    await t.db.transaction().execute((trx) => outbox.publishMany(trx, [
      { eventType: 'gauge_test', payload: {}, scheduledFor: new Date(Date.now() - 3000) },
      { eventType: 'gauge_test', payload: {}, scheduledFor: new Date(Date.now() + 60_000) },
    ]));
    const after = await gauges();
    expect((after.byStatus.pending as number) - (before.byStatus.pending as number)).toBe(2);
    expect(after.byStatus).toHaveProperty('processing');
    expect(after.byStatus).toHaveProperty('dead');
    expect(after.age).toBeGreaterThanOrEqual(2.5);
    stop();
    // no more observations: a new event does not show
    await t.db.transaction().execute((trx) => outbox.publish(trx, { eventType: 'gauge_test', payload: {} }));
    expect((await gauges()).byStatus.pending ?? after.byStatus.pending).toBe(after.byStatus.pending);
  });
});
