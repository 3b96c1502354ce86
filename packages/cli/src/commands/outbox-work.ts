import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createWorker, type OutboxHandler, type OutboxHandlerSteps, type Schedule } from '@swan/outbox';
import type { NatsRelay } from '@swan/outbox/nats';
import { pgListen } from '@swan/outbox/pg-listen';
import { EXIT, UsageError, type Command } from '../command.js';
import { databaseOptions, databaseTarget, openDatabase } from '../database.js';

const int = (v: unknown, name: string, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}`);
  return n;
};

/**
 * `swan outbox work`: outbox workers as their own process (the example server with
 * `RUN_WORKERS=false`: `swan outbox work --handlers examples/server/dist/handlers.js`). Handlers
 * come from `--handlers <module>` (exporting `handlers`, an object of event type → async handler,
 * and optionally `close()`, called on shutdown) and/or `--nats-url` (default `NATS_URL`): every
 * event relayed to JetStream, after the local handler as a second step (a relay retry never
 * re-runs the local handler). Runs until SIGINT/SIGTERM, then stops gracefully.
 */
export const outboxWorkCommand: Command = {
  name: 'outbox work',
  summary: 'Run outbox workers in this process until SIGINT/SIGTERM',
  description: [
    'Runs outbox workers in this process until SIGINT/SIGTERM, then lets running handlers finish.',
    'Handlers come from --handlers <module> (exporting `handlers`, an object of event type → async',
    'handler, optionally `schedules`, recurring schedules it queues, and `close()`, called on',
    'shutdown) and/or --nats-url: every event relayed',
    'to NATS JetStream, after the local handler as a second step. Wakes on LISTEN/NOTIFY unless',
    '--no-listen (PgBouncer transaction pooling: polling only); with LISTEN, single events are pushed',
    'to it at publish unless --no-push.',
  ].join('\n'),
  options: {
    ...databaseOptions,
    handlers: { type: 'string', value: 'module', description: 'ES module exporting `handlers` (and optionally `close`)', defaultText: 'none' },
    'nats-url': { type: 'string', value: 'url', description: 'Relay every event to NATS JetStream at this URL', defaultText: '$NATS_URL' },
    concurrency: { type: 'string', value: 'n', description: 'Handlers running at once', default: '10' },
    'batch-size': { type: 'string', value: 'n', description: 'Events claimed per round trip', default: '100' },
    'lease-ms': { type: 'string', value: 'ms', description: 'How long a claim lasts before another worker may take the event', default: '30000' },
    'poll-ms': { type: 'string', value: 'ms', description: 'Polling interval when no notification arrives', default: '1000' },
    'no-listen': { type: 'boolean', description: 'Poll only, no LISTEN/NOTIFY (PgBouncer transaction pooling)', default: false },
    'no-push': { type: 'boolean', description: 'Do not take events straight from publish (claim every event)', default: false },
    ordered: { type: 'boolean', description: 'Keep per-aggregate order (one event per aggregate at a time)', default: false },
  },
  output: 'Status lines on stderr. Exit 0 after a graceful stop, 1 failed, 2 wrong usage.',
  examples: [
    'swan outbox work --handlers ./dist/outbox-handlers.js --concurrency 20 --database-url postgres://swan_app@db/swan',
    'swan outbox work --handlers examples/server/dist/handlers.js --nats-url nats://127.0.0.1:4222 --database-url …',
  ],
  async run({ values, io }) {
    const natsUrl = (values['nats-url'] as string | undefined) || io.env.NATS_URL;
    const local: Record<string, OutboxHandler> = {};
    let closeHandlers: (() => Promise<void>) | undefined;
    let schedules: Schedule[] | undefined;
    if (typeof values.handlers === 'string') {
      type HandlerModule = { handlers?: Record<string, OutboxHandler>; schedules?: Schedule[]; close?: () => Promise<void> };
      const mod = (await import(pathToFileURL(resolve(values.handlers)).href)) as HandlerModule & { default?: HandlerModule };
      const loaded = mod.handlers ?? mod.default?.handlers;
      if (!loaded || typeof loaded !== 'object') throw new UsageError(`${values.handlers} must export "handlers": { [eventType]: async (event) => … }`);
      Object.assign(local, loaded);
      const listed = mod.schedules ?? mod.default?.schedules;
      if (listed !== undefined && !Array.isArray(listed)) throw new UsageError(`${values.handlers}: "schedules" must be an array of { name, cron, eventType }`);
      schedules = listed;
      const close = mod.close ?? mod.default?.close;
      if (typeof close === 'function') closeHandlers = close;
    }
    if (!natsUrl && Object.keys(local).length === 0) {
      await closeHandlers?.();
      throw new UsageError('Give --handlers <module> and/or --nats-url (or NATS_URL)');
    }
    const db = openDatabase(values, io.env);
    let relay: NatsRelay | undefined;
    try {
      const handlers: Record<string, OutboxHandlerSteps> = { ...local };
      if (natsUrl) {
        relay = await (await import('@swan/outbox/nats')).connectNatsRelay({ servers: natsUrl }); // nats: an optional peer, loaded only here
        for (const [type, h] of Object.entries(local)) handlers[type] = [h, relay.handler];
        handlers['*'] = relay.handler;
      }
      const target = databaseTarget(values, io.env);
      const url = target.kind === 'postgres' ? target.url : undefined;
      const onError = (e: unknown, c: { phase: string; eventId?: string }) =>
        io.stderr(`outbox ${c.phase}${c.eventId ? ` ${c.eventId}` : ''}: ${e instanceof Error ? e.message : String(e)}\n`);
      const worker = createWorker({
        db,
        handlers,
        concurrency: int(values.concurrency, 'concurrency', 1),
        batchSize: int(values['batch-size'], 'batch-size', 1),
        leaseMs: int(values['lease-ms'], 'lease-ms', 100),
        pollIntervalMs: int(values['poll-ms'], 'poll-ms', 10),
        ordered: values.ordered === true,
        push: values['no-push'] !== true,
        ...(schedules ? { schedules } : {}),
        ...(url && values['no-listen'] !== true ? { listen: pgListen(url, { onError: (e) => onError(e, { phase: 'listen' }) }) } : {}),
        onError,
      });
      await worker.start();
      io.stderr(`outbox worker ${worker.workerId} running: ${Object.keys(handlers).join(', ')}\n`);
      if (schedules?.length) io.stderr(`outbox schedules queued: ${schedules.map((s) => s.name).join(', ')}\n`);
      await new Promise<void>((done) => {
        const stop = () => done();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      io.stderr('stopping: finishing running handlers\n');
      await worker.stop({ graceful: true });
      return EXIT.ok;
    } finally {
      await relay?.close();
      await db.destroy();
      await closeHandlers?.();
    }
  },
};
