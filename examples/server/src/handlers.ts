// The example server's outbox handlers for a separate worker process (RUN_WORKERS=false on the
// web server):  swan outbox work --handlers examples/server/dist/handlers.js
// Builds them exactly as the server does: the same configuration from the environment, the same
// modules in the same order, each registering its handlers through ctx.onEvent. Nothing listens
// on a port and no module is started here; `swan outbox work` runs the workers (and the NATS
// relay with NATS_URL) and calls close() on SIGTERM.
import { migrations as coreMigrations } from '@swan/core';
import type { OutboxHandler, Schedule } from '@swan/outbox';
import { loadConfig } from './config.js';
import { openDatabase, uniqueSets } from './database.js';
import { createLogger } from './logger.js';
import { modules } from './modules/index.js';
import { registeredSchedules, workerHandlers } from './modules/outbox.js';
import type { ModuleInstance, ServerContext } from './modules/types.js';

// Logs go to stderr: the worker's stdout stays free for whoever runs it.
const logger = createLogger((line) => process.stderr.write(line));
const config = { ...loadConfig(process.env), runWorkers: false };
const { db } = await openDatabase(config, logger, uniqueSets([coreMigrations, ...modules.flatMap((m) => m.migrations ?? [])]));
const ctx: ServerContext = { db, config, logger, exportContributors: [], erasureParticipants: [], services: {} };
const instances: ModuleInstance[] = [];
try {
  for (const module of modules) instances.push(await module.setup(ctx));
} catch (error) {
  await db.destroy();
  throw error;
}

/** Every handler the in-process workers run (check-in SMS, AI queueing, alerts, and the built-in sink of informational events unless NATS_URL relays them), by event type. */
export const handlers: Record<string, OutboxHandler> = { ...workerHandlers(ctx, Boolean(config.natsUrl)) };

/** The recurring schedules (retention, audit verification, alias release, …): `swan outbox work` queues them. */
export const schedules: Schedule[] = [...registeredSchedules(ctx)];

/** Releases what the modules opened (Redis, the database); `swan outbox work` calls it on shutdown. */
export async function close(): Promise<void> {
  for (const instance of [...instances].reverse()) {
    try {
      await instance.stop?.();
    } catch (error) {
      logger.error('module stop failed', { error: error instanceof Error ? error.message : String(error) });
    }
  }
  await db.destroy();
}
