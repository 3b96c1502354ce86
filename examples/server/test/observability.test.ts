/**
 * Observability of the example server (issue 24, "Observability"): Prometheus text on
 * METRICS_PORT whose outbox, rate-limit and HTTP series move as requests are driven; one trace
 * spanning a route, the outbox publish and the event's handler (an in-memory span exporter,
 * through the server's own SDK setup); the PII read span's purpose without values; a request id
 * in and out and one access line per request without query values.
 */
import { sql } from 'kysely';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type SwanServer } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { eventually } from './fakes.js';
import { memoryLogger, mintToken, SECRET } from './helpers.js';

/** Sum of the samples of `name` whose labels include `labels` (0 when none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

describe.each(['express', 'fastify'] as const)('observability on %s', (framework) => {
  const spans = new InMemorySpanExporter();
  const logger = memoryLogger();
  const dataDir = mkdtempSync(join(tmpdir(), 'swan-otel-'));
  let server: SwanServer;
  let admin: string;
  let client: { id: string; token: string };

  const send = async (method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };
  const scrape = async () => {
    const res = await fetch(server.metricsUrl!);
    expect(res.status).toBe(200);
    return res.text();
  };
  /** Waits until the workers have handled every due event. */
  const drained = () => eventually(async () => {
    const { byStatus } = await (server.ctx.services.outbox as { stats(): Promise<{ byStatus: Record<string, number> }> }).stats();
    return byStatus.pending === 0 && byStatus.processing === 0;
  });

  beforeAll(async () => {
    const config = loadConfig({ PORT: '0', METRICS_PORT: '0', DATA_DIR: dataDir, AUTH_JWT_SECRET: SECRET, SWAN_FRAMEWORK: framework });
    server = await createServer(config, { logger, host: '127.0.0.1', telemetry: { spanProcessors: [new SimpleSpanProcessor(spans)] } });
    admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '1h' });
    const created = await send('POST', '/api/clients', admin, {
      pii: { full_name: 'Mary Somerville', date_of_birth: '1980-12-26', email: `${randomUUID()}@example.com`, emergency_contact: { name: 'Kin', relationship: 'sibling', phone: '+12025550123' } },
      training: { training_goals: ['strength'] },
    });
    expect(created.status).toBe(201);
    const id = created.body.client.clientId as string;
    client = { id, token: await mintToken({ sub: id, role: 'client' }, { expiresIn: '1h' }) };
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves Prometheus text on METRICS_PORT only; outbox, rate-limit and HTTP series move with the requests', async () => {
    expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(server.metricsUrl).not.toContain(`:${server.port}/`);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);

    await drained();
    const before = await scrape();
    expect((await send('POST', '/api/consent/grant', client.token, { clientId: client.id, consentType: 'photo_analysis', consentVersion: '3.0', consentGranted: true })).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await send('POST', '/api/photo-upload', client.token, { objectKey: `uploads/${i}.jpg` })).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429, 429]);
    await drained();
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);

    // HTTP: OpenTelemetry's http.server.request.duration, by route and status
    expect(delta('http_server_request_duration_count', { http_route: '/api/photo-upload', http_response_status_code: '202', http_request_method: 'POST' })).toBe(5);
    expect(delta('http_server_request_duration_count', { http_route: '/api/photo-upload', http_response_status_code: '429' })).toBe(2);
    // rate limits: decisions and rejections per policy
    expect(delta('swan_ratelimit_decisions_total', { policy: 'photoUpload', decision: 'allowed' })).toBe(5);
    expect(delta('swan_ratelimit_decisions_total', { policy: 'photoUpload', decision: 'rejected' })).toBe(2);
    expect(delta('swan_ratelimit_rejections_total', { policy: 'photoUpload' })).toBe(2);
    expect(delta('swan_ratelimit_decisions_total', { policy: 'general', decision: 'allowed' })).toBeGreaterThanOrEqual(1);
    // outbox: handler runs, by type and outcome; the gauges of what is left
    expect(delta('swan_outbox_handler_duration_count', { event_type: 'photo_analysis_requested', outcome: 'completed' })).toBe(5);
    expect(delta('swan_outbox_handler_duration_count', { event_type: 'consent_granted', outcome: 'completed' })).toBe(1);
    // pending: only the next occurrences of the nightly schedules, queued ahead
    const { rows: ahead } = await sql<{ n: number }>`
      select count(*)::int as n from swan_outbox where status = 'pending' and idempotency_key like 'schedule:%'`.execute(server.ctx.db);
    const queuedAhead = ahead[0]!.n;
    expect(sample(after, 'swan_outbox_events', { status: 'pending' })).toBe(queuedAhead);
    for (const status of ['processing', 'dead']) expect(after).toMatch(new RegExp(`^swan_outbox_events\\{[^}]*status="${status}"[^}]*\\} 0$`, 'm'));
    expect(after).toMatch(/^swan_outbox_oldest_pending_age(\{[^}]*\})? 0$/m);
    expect(after).toMatch(/^swan_core_audit_unchained(\{[^}]*\})? \d+$/m);

    // a due event nobody has taken yet shows in the gauges
    const outbox = server.ctx.services.outbox as { register(t: string): void; publish(trx: unknown, e: unknown): Promise<unknown> };
    outbox.register('observability_probe');
    await server.ctx.db.transaction().execute((trx) => outbox.publish(trx, { eventType: 'observability_probe', payload: {}, scheduledFor: new Date(Date.now() - 5000) }));
    const queued = await scrape();
    expect(sample(queued, 'swan_outbox_events', { status: 'pending' })).toBe(queuedAhead + 1);
    expect(sample(queued, 'swan_outbox_oldest_pending_age')).toBeGreaterThanOrEqual(4);
  });

  it('one trace spans the route, the outbox publish and the handler of the event', async () => {
    spans.reset();
    const granted = await send('POST', '/api/consent/grant', client.token, { clientId: client.id, consentType: 'ai_processing', consentVersion: '3.0', consentGranted: true });
    expect(granted.status).toBe(200);
    const all = await eventually(() => {
      const finished = spans.getFinishedSpans();
      return finished.some((s) => s.name === 'process consent_granted') ? finished : null;
    });
    expect(all).not.toBeNull();
    const byName = (name: string) => all!.filter((s) => s.name === name);
    const [route] = byName('POST /api/consent/grant');
    const [publish] = byName('publish consent_granted');
    const [handle] = byName('process consent_granted');
    expect(route && publish && handle).toBeTruthy();
    const traceId = route!.spanContext().traceId;
    expect(publish!.spanContext().traceId).toBe(traceId);
    expect(handle!.spanContext().traceId).toBe(traceId);
    // route → publish → handle
    const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
    const ancestors = (s: ReadableSpan): string[] => {
      const parent = all!.find((p) => p.spanContext().spanId === parentOf(s));
      return parent ? [parent.spanContext().spanId, ...ancestors(parent)] : [];
    };
    expect(ancestors(publish!)).toContain(route!.spanContext().spanId);
    expect(parentOf(handle!)).toBe(publish!.spanContext().spanId);
    expect(route!.kind).toBe(SpanKind.SERVER);
    expect(publish!.kind).toBe(SpanKind.PRODUCER);
    expect(handle!.kind).toBe(SpanKind.CONSUMER);
    expect(route!.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/api/consent/grant', 'http.response.status_code': 200 });
    const eventId = handle!.attributes['messaging.message.id'];
    expect(eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(publish!.attributes['messaging.message.id']).toBe(eventId);
    expect(handle!.links.map((l) => [l.context.spanId, l.attributes?.['messaging.message.id']])).toEqual([[publish!.spanContext().spanId, eventId]]);
  });

  it('PII reads have a span with the purpose, never the values or the note; the caller\'s traceparent is continued', async () => {
    spans.reset();
    const traceId = 'a'.repeat(32);
    const read = await send('GET', `/api/clients/${client.id}/pii?purpose=session_planning&reason=${encodeURIComponent('session_planning: call about Tuesday')}`, admin, undefined, {
      traceparent: `00-${traceId}-${'b'.repeat(16)}-01`,
    });
    expect(read.status).toBe(200);
    const finished = spans.getFinishedSpans();
    const piiRead = finished.find((s) => s.name === 'pii read');
    expect(piiRead?.attributes).toMatchObject({ 'swan.pii.purpose': 'session_planning', 'swan.pii.action': 'PII_ACCESS', 'swan.actor.role': 'admin', 'swan.pii.outcome': 'allowed' });
    expect(piiRead!.spanContext().traceId).toBe(traceId);
    const recorded = JSON.stringify(finished.map((s) => [s.name, s.attributes, s.events]));
    expect(recorded).not.toMatch(/Tuesday|Somerville|Mary|example\.com|1980-12-26/);
  });

  it('X-Request-Id in and out, one access line per request, no query values', async () => {
    const mine = await send('GET', `/api/clients/${client.id}/pii?purpose=session_planning&reason=${encodeURIComponent('session_planning: secret-note-42')}`, admin, undefined, { 'x-request-id': 'req-abc.123' });
    expect(mine.headers.get('x-request-id')).toBe('req-abc.123');
    const theirs = await send('GET', '/api/admin/outbox/stats', admin, undefined, { 'x-request-id': 'bad id <script>' });
    const generated = theirs.headers.get('x-request-id');
    expect(generated).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const missing = await fetch(`${server.url}/no/such/route?token=zzz-query-value`);
    expect(missing.status).toBe(404);
    const access = await eventually(() => {
      const lines = logger.entries.filter((e) => e.msg === 'request');
      return lines.some((l) => l.requestId === missing.headers.get('x-request-id')) ? lines : null;
    });
    expect(access!.filter((l) => l.requestId === 'req-abc.123')).toEqual([
      expect.objectContaining({ level: 'info', method: 'GET', route: '/api/clients/:clientId/pii', status: 200, durationMs: expect.any(Number) }),
    ]);
    expect(access!.filter((l) => l.requestId === generated)).toEqual([expect.objectContaining({ route: '/api/admin/outbox/stats', status: 200 })]);
    expect(access!.find((l) => l.requestId === missing.headers.get('x-request-id'))).toMatchObject({ status: 404, route: '(no route)' });
    expect(JSON.stringify(logger.entries)).not.toMatch(/secret-note-42|zzz-query-value|bad id/);
  });
});
