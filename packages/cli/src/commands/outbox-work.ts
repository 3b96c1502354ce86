import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createWorker, type OutboxHandler, type OutboxHandlerSteps } from '@swan/outbox';
import type { NatsRelay } from '@swan/outbox/nats';
import { pgListen } from '@swan/outbox/pg-listen';
import { EXIT, UsageError, type Command } from '../command.js';
import { openDatabase } from '../database.js';

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
  options: {
    'database-url': { type: 'string' },
    'data-dir': { type: 'string' },
    handlers: { type: 'string' },
    'nats-url': { type: 'string' },
    concurrency: { type: 'string', default: '10' },
    'batch-size': { type: 'string', default: '100' },
    'lease-ms': { type: 'string', default: '30000' },
    'poll-ms': { type: 'string', default: '1000' },
    'no-listen': { type: 'boolean', default: false },
    ordered: { type: 'boolean', default: false },
  },
  usage: [
    'Wakes on LISTEN/NOTIFY unless --no-listen (PgBouncer transaction pooling: polling only).',
    'Example: swan outbox work --handlers ./dist/outbox-handlers.js --concurrency 20',
  ].join('\n'),
  async run({ values, io }) {
    const natsUrl = (values['nats-url'] as string | undefined) || io.env.NATS_URL;
    const local: Record<string, OutboxHandler> = {};
    let closeHandlers: (() => Promise<void>) | undefined;
    if (typeof values.handlers === 'string') {
      type HandlerModule = { handlers?: Record<string, OutboxHandler>; close?: () => Promise<void> };
      const mod = (await import(pathToFileURL(resolve(values.handlers)).href)) as HandlerModule & { default?: HandlerModule };
      const loaded = mod.handlers ?? mod.default?.handlers;
      if (!loaded || typeof loaded !== 'object') throw new UsageError(`${values.handlers} must export "handlers": { [eventType]: async (event) => … }`);
      Object.assign(local, loaded);
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
      const url = (values['database-url'] as string | undefined) || io.env.DATABASE_URL;
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
        ...(url && values['no-listen'] !== true ? { listen: pgListen(url, { onError: (e) => onError(e, { phase: 'listen' }) }) } : {}),
        onError,
      });
      await worker.start();
      io.stderr(`outbox worker ${worker.workerId} running: ${Object.keys(handlers).join(', ')}\n`);
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
