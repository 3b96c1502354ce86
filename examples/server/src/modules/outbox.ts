import { billingRetentionRules } from '@swan/billing';
import { checkinsRetentionRules } from '@swan/checkins';
import { connectNatsRelay, type NatsRelay } from '@swan/outbox/nats';
import {
  auditRetentionRule, createOutbox, createScheduleStore, createWorker, migrations, observeOutbox, outboxRetentionRules, outboxRoutes, runRetention,
  type OutboxHandler, type OutboxHandlerSteps, type Schedule, type Worker,
} from '@swan/outbox';
import { pgListen } from '@swan/outbox/pg-listen';
import { installAlerts, verifyAuditChainAndAlert, watchDeadLetters } from '../alerts.js';
import type { Logger, ServerContext, ServerModule } from './types.js';

/**
 * Event types that only inform other services (nothing in the example server acts on them). With
 * `NATS_URL` they are relayed to JetStream; without a relay the built-in sink completes them (one
 * log line each), so they never pile up as pending.
 */
export const INFORMATIONAL_EVENTS: readonly string[] = [
  'consent_granted',
  'consent_revoked',
  'master_prompt_stored',
  'subscription_activated',
  'subscription_canceled',
  'checkin_response_received',
  'client_erased',
];

/** The built-in sink: completes an informational event, logging its type and id (never its payload). */
export function informationalSink(logger: Logger): OutboxHandler {
  return async (event) => logger.info('outbox: informational event completed by the built-in sink (no NATS relay)', { eventType: event.eventType, eventId: event.eventId });
}

/**
 * Everything the workers run: the local handlers and, unless events are relayed to NATS (which
 * then takes every type without a local handler), the built-in sink for the
 * {@link INFORMATIONAL_EVENTS} without one.
 */
export function workerHandlers(ctx: ServerContext, relayed: boolean): Record<string, OutboxHandler> {
  const local = registeredHandlers(ctx);
  if (relayed) return { ...local };
  const sink = informationalSink(ctx.logger);
  return { ...Object.fromEntries(INFORMATIONAL_EVENTS.filter((t) => !local[t]).map((t) => [t, sink])), ...local };
}

const DAY = 86_400_000;

/**
 * The example server's own schedules (UTC): retention of every table at 03:30, and the audit
 * chain's verification at 02:30. A slot missed while every instance was down runs on the next
 * start if it is less than a day old.
 */
export const OPERATIONS_SCHEDULES: readonly Schedule[] = [
  { name: 'retention', cron: '30 3 * * *', eventType: 'retention_run', backfill: DAY },
  { name: 'audit_chain_verify', cron: '30 2 * * *', eventType: 'audit_chain_verify', backfill: DAY },
];

/** The schedules registered through `ctx.schedule` (the module's own first), for the workers and `swan outbox work`. */
export function registeredSchedules(ctx: ServerContext): Schedule[] {
  const schedules = ctx.services.outboxSchedules as Schedule[] | undefined;
  if (!schedules) throw new Error('the outbox module is not set up');
  return schedules;
}

/**
 * The local handlers registered through `ctx.onEvent` (filled while later modules set up): what
 * the in-process workers run, and what `src/handlers.ts` exports for `swan outbox work`.
 */
export function registeredHandlers(ctx: ServerContext): Record<string, OutboxHandler> {
  const handlers = ctx.services.outboxHandlers as Record<string, OutboxHandler> | undefined;
  if (!handlers) throw new Error('the outbox module is not set up');
  return handlers;
}

/**
 * Worker handlers: each local handler, then (with a relay) the relay as a second step, so a
 * failed relay is retried without re-running the local side effect; `'*'` relays every other type.
 */
export function withRelay(local: Record<string, OutboxHandler>, relay?: OutboxHandler): Record<string, OutboxHandlerSteps> {
  if (!relay) return { ...local };
  const all: Record<string, OutboxHandlerSteps> = { '*': relay };
  for (const [type, handler] of Object.entries(local)) all[type] = [handler, relay];
  return all;
}

/**
 * The transactional outbox, first of the modules: sets `ctx.events` (publish in the caller's
 * transaction), `ctx.onEvent` (handlers, registered by later modules during setup) and `ctx.alert`
 * (operator alerts: logged, and POSTed to `ALERT_WEBHOOK_URL` through the `ops_alert` event).
 * Every event type has a consumer: a local handler, the NATS relay, or for
 * {@link INFORMATIONAL_EVENTS} without a relay the built-in sink. On every instance it observes
 * the outbox gauges and raises a `dead_letter` alert for each dead-lettered event. Unless
 * `RUN_WORKERS=false` (then `swan outbox work` runs them), workers run in-process from `start()`:
 * LISTEN/NOTIFY on PostgreSQL, polling on PGlite. With `NATS_URL`, every event is also relayed to
 * JetStream (`swan.events.<type>`, `Nats-Msg-Id` = event id) as a second step after its local
 * handler: a relay retry (NATS down: no attempt counted) never re-runs the local side effect.
 * Mounts the admin routes `GET /api/admin/outbox/stats`, `GET /api/admin/outbox/dead` and
 * `POST /api/admin/outbox/dead/:eventId/redrive`. Sets `ctx.schedule` (recurring schedules, once
 * per slot across instances), `services.scheduleStore` (schedules stored at run time, such as each
 * client's daily check-ins) and schedules {@link OPERATIONS_SCHEDULES}: nightly retention and
 * audit-chain verification. `OUTBOX_LEASE_MS` sets the workers' lease (default 30 s).
 */
export const outboxModule: ServerModule = {
  name: 'outbox',
  migrations: [migrations],
  setup(ctx) {
    const { config, logger } = ctx;
    const outbox = createOutbox({ db: ctx.db });
    const handlers: Record<string, OutboxHandler> = {};
    ctx.events = outbox;
    const on = (eventType: string, handler: OutboxHandler) => {
      if (!outbox.eventTypes().includes(eventType)) outbox.register(eventType);
      if (handlers[eventType]) throw new Error(`An outbox handler for ${eventType} is registered already`);
      handlers[eventType] = handler;
    };
    ctx.onEvent = (eventType, handler) => on(eventType, (event) => handler(event));
    ctx.services.outbox = outbox;
    // stored (per-client) schedules, e.g. daily check-ins: the workers below advance them
    ctx.services.scheduleStore = createScheduleStore({ outbox });
    ctx.services.outboxHandlers = handlers;
    // alerts: ctx.alert for every module, rate_limit_alert and ops_alert delivered to ALERT_WEBHOOK_URL
    const alerts = installAlerts(ctx, outbox);
    for (const [type, handler] of Object.entries(alerts.handlers)) on(type, handler);
    let deadLetters: ReturnType<typeof watchDeadLetters> | undefined;
    let unobserve: (() => void) | undefined;
    const schedules: Schedule[] = [];
    ctx.services.outboxSchedules = schedules;
    ctx.schedule = (schedule, handler) => {
      if (schedules.some((s) => s.name === schedule.name)) throw new Error(`A schedule named ${schedule.name} is registered already`);
      ctx.onEvent!(schedule.eventType, handler);
      schedules.push({ ...schedule });
    };
    // every table's retention, nightly, once across instances
    ctx.schedule(OPERATIONS_SCHEDULES[0]!, async () => {
      const rules = [...outboxRetentionRules(), ...billingRetentionRules(), ...checkinsRetentionRules(), auditRetentionRule()];
      const report = await runRetention(ctx.db, rules);
      logger.info('retention run', { removed: Object.fromEntries(report.map((r) => [r.rule, r.removed])) });
    });
    // the audit chain, nightly: a broken chain raises an alert for the operators
    ctx.schedule(OPERATIONS_SCHEDULES[1]!, async () => {
      await verifyAuditChainAndAlert(ctx.db, alerts.raise, logger);
    });
    let worker: Worker | undefined;
    let relay: NatsRelay | undefined;
    const onError = (error: unknown, context: { phase: string; eventId?: string }) =>
      logger.warn(`outbox ${context.phase}`, { eventId: context.eventId, error: error instanceof Error ? error.message : String(error) });

    return {
      routes: outboxRoutes(outbox),
      health: (): Record<string, string> => (config.natsUrl ? { nats: relay?.healthy() ? 'ok' : 'down' } : {}),
      async start() {
        // every instance: the outbox gauges, and dead letters (whichever process's worker made them) raise alerts
        unobserve = observeOutbox(ctx.db);
        deadLetters = watchDeadLetters(ctx.db, alerts.raise, logger);
        ctx.services.deadLetterWatch = deadLetters;
        if (!config.runWorkers) {
          logger.info('outbox workers not started here (RUN_WORKERS=false): run `swan outbox work`');
          return;
        }
        if (config.natsUrl) {
          try {
            relay = await connectNatsRelay({ servers: config.natsUrl });
            logger.info('outbox: relaying events to NATS JetStream', { stream: 'SWAN_EVENTS', subjects: 'swan.events.>' });
          } catch (error) {
            logger.error('outbox: NATS is unreachable, events are not relayed', { error: error instanceof Error ? error.message : String(error) });
          }
        }
        const all = withRelay(workerHandlers(ctx, relay !== undefined), relay?.handler);
        if (Object.keys(all).length === 0) return;
        const listenUrl = config.databaseAppUrl ?? config.databaseUrl;
        const leaseMs = Number(config.env.OUTBOX_LEASE_MS) || undefined;
        worker = createWorker({
          db: ctx.db,
          handlers: all,
          schedules,
          ...(leaseMs ? { leaseMs } : {}),
          ...(listenUrl ? { listen: pgListen(listenUrl, { onError: (e) => onError(e, { phase: 'listen' }) }) } : { pollIntervalMs: 250 }),
          onError,
        });
        await worker.start();
        logger.info('outbox workers started', { eventTypes: Object.keys(all), schedules: schedules.map((s) => s.name), wake: listenUrl ? 'listen' : 'poll' });
      },
      async stop() {
        await deadLetters?.stop();
        unobserve?.();
        await worker?.stop({ graceful: true, timeoutMs: 10_000 });
        await relay?.close();
      },
    };
  },
};
