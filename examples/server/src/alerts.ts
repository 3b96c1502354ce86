import { sql, type Kysely } from 'kysely';
import { verifyAuditChain } from '@swan/core';
import { PermanentError, UnavailableError, type Outbox, type OutboxHandler } from '@swan/outbox';
import type { Logger, OperatorAlert, ServerContext } from './modules/types.js';

/** Outbox event type that carries an operator alert to `ALERT_WEBHOOK_URL`. */
export const OPS_ALERT = 'ops_alert';
/** Outbox event type whose handler verifies the audit chain and alerts when it is broken (the nightly schedule publishes it). */
export const AUDIT_CHAIN_VERIFICATION = 'audit_chain_verification_due';

/** Alerts are retried without counting attempts while the webhook is unreachable; a rejected alert is given up after this many. */
const ALERT_ATTEMPTS = 10;
const WEBHOOK_TIMEOUT_MS = 10_000;

/** The JSON document POSTed to `ALERT_WEBHOOK_URL`. */
export interface AlertDocument {
  /** `rate_limit_alert`, `dead_letter`, `audit_chain_broken`, … */
  kind: string;
  summary: string;
  details: Record<string, unknown>;
  /** The outbox event that carried the alert (the same id on every retry: deduplicate on it). */
  alertId: string;
  service: string;
  occurredAt: string;
}

/**
 * POSTs one alert as JSON. Unreachable, timed out, 429 or 5xx: `UnavailableError` (the outbox
 * retries later without counting an attempt); any other non-2xx: `PermanentError`.
 */
export async function postAlert(url: string, alert: AlertDocument, fetchImpl: typeof fetch = fetch): Promise<void> {
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'swan-example-server' },
      body: JSON.stringify(alert),
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      redirect: 'error',
    });
  } catch (cause) {
    throw new UnavailableError(`alert webhook unreachable: ${cause instanceof Error ? cause.name : 'error'}`, { cause });
  }
  await res.body?.cancel().catch(() => undefined);
  if (res.ok) return;
  if (res.status === 429 || res.status >= 500) throw new UnavailableError(`alert webhook answered ${res.status}`);
  throw new PermanentError(`alert webhook rejected the alert with ${res.status}`);
}

function cleanDetails(details: Record<string, unknown> | undefined): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(details ?? {})) {
    if (v === null || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (typeof v === 'string') out[k] = v.slice(0, 200);
  }
  return out;
}

/** What the alert sink needs of the server. */
export interface AlertSinkOptions {
  db: Kysely<any>;
  outbox: Outbox;
  logger: Logger;
  /** ALERT_WEBHOOK_URL; without it alerts are only logged. */
  webhookUrl?: string;
  service?: string;
  fetch?: typeof fetch;
}

/** Raises alerts and delivers them; see {@link createAlertSink}. */
export interface AlertSink {
  /** Logs the alert (once per `dedupeKey`) and queues its delivery to the webhook. */
  raise(alert: OperatorAlert): Promise<void>;
  /** Outbox handlers: `ops_alert` (delivery), `rate_limit_alert` (log and deliver) and the audit chain verification. */
  handlers: Record<string, OutboxHandler>;
}

/**
 * The example server's alerts: each one is written to the log (`level: "error"`, `msg: "ALERT: …"`)
 * and POSTed as JSON ({@link AlertDocument}) to `ALERT_WEBHOOK_URL` by the outbox, so an alert
 * survives a restart and a webhook outage (retried with backoff, without counting attempts while
 * the webhook is unreachable). Alerts with the same `dedupeKey` are raised once, however many
 * instances raise them.
 *
 * @example
 * ```ts
 * const alerts = createAlertSink({ db, outbox, logger, webhookUrl: config.alertWebhookUrl });
 * await alerts.raise({ kind: 'dead_letter', summary: 'event … is dead', details: { eventId }, dedupeKey: `dead_letter:${eventId}` });
 * ```
 */
export function createAlertSink(options: AlertSinkOptions): AlertSink {
  const { db, outbox, logger } = options;
  const service = options.service ?? 'swan-example-server';
  const deliver = async (alert: { kind: string; summary: string; details: Record<string, unknown> }, alertId: string, occurredAt: Date) => {
    if (!options.webhookUrl) return;
    await postAlert(options.webhookUrl, { ...alert, alertId, service, occurredAt: occurredAt.toISOString() }, options.fetch);
  };

  const raise = async (alert: OperatorAlert): Promise<void> => {
    const payload = { kind: alert.kind, summary: alert.summary.slice(0, 300), details: cleanDetails(alert.details) };
    const { duplicate } = await db.transaction().execute((trx) => outbox.publish(trx, {
      eventType: OPS_ALERT,
      payload,
      maxAttempts: ALERT_ATTEMPTS,
      ...(alert.dedupeKey ? { idempotencyKey: `alert:${alert.dedupeKey}`.slice(0, 200) } : {}),
    }));
    if (!duplicate) logger.error(`ALERT: ${payload.summary}`, { alert: payload.kind, ...payload.details });
  };

  const handlers: Record<string, OutboxHandler> = {
    [OPS_ALERT]: async (event) => {
      const p = event.payload as { kind?: unknown; summary?: unknown; details?: unknown };
      try {
        await deliver({ kind: String(p.kind), summary: String(p.summary), details: cleanDetails(p.details as Record<string, unknown>) }, event.eventId, event.createdAt);
      } catch (error) {
        if (error instanceof PermanentError) logger.error('alert webhook refused an alert: given up', { alertId: event.eventId, error: error.message });
        throw error;
      }
    },
    rate_limit_alert: async (event) => {
      const p = event.payload as { policy?: unknown; violations?: unknown; threshold?: unknown; windowSeconds?: unknown; key?: unknown };
      const alert = {
        kind: 'rate_limit_alert',
        summary: `rate limit ${String(p.policy)}: a caller was rejected ${String(p.violations)} times in ${String(p.windowSeconds ?? '?')} s`,
        // key is a keyed pseudonym of the IP, phone number or actor: never the value itself
        details: cleanDetails({ policy: p.policy, violations: p.violations, threshold: p.threshold, windowSeconds: p.windowSeconds, key: p.key } as Record<string, unknown>),
      };
      if (event.attempts === 0) logger.error(`ALERT: ${alert.summary}`, { alert: alert.kind, ...alert.details });
      await deliver(alert, event.eventId, event.createdAt);
    },
    [AUDIT_CHAIN_VERIFICATION]: async () => {
      await verifyAuditChainAndAlert(db, raise, logger);
    },
  };
  return { raise, handlers };
}

/**
 * Verifies the whole audit chain; a broken one raises an `audit_chain_broken` alert (once per
 * first broken entry). Returns the verification.
 *
 * @example
 * ```ts
 * await verifyAuditChainAndAlert(db, alerts.raise, logger);
 * ```
 */
export async function verifyAuditChainAndAlert(db: Kysely<any>, raise: AlertSink['raise'], logger: Logger) {
  const result = await verifyAuditChain(db);
  if (result.valid) {
    logger.info('audit chain verified', { entries: result.entries });
  } else {
    await raise({
      kind: 'audit_chain_broken',
      summary: `audit chain verification failed at entry ${result.firstBrokenId ?? '?'} after ${result.entries} valid entries`,
      details: { firstBrokenId: result.firstBrokenId ?? null, entries: result.entries },
      dedupeKey: `audit_chain_broken:${result.firstBrokenId ?? 'head'}`,
    });
  }
  return result;
}

/**
 * Watches for dead-lettered events (whichever process's worker dead-lettered them) and raises one
 * `dead_letter` alert per event and failure (a redriven event that dies again alerts again).
 * Dead alerts themselves are not re-alerted. Runs every `intervalMs` until `stop()`.
 *
 * @example
 * ```ts
 * const watcher = watchDeadLetters(db, alerts.raise, logger, 15_000);
 * await watcher.stop();
 * ```
 */
export function watchDeadLetters(db: Kysely<any>, raise: AlertSink['raise'], logger: Logger, intervalMs = 15_000): { check(): Promise<number>; stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const check = async (): Promise<number> => {
    const { rows } = await sql<{ event_id: string; event_type: string; attempts: number; last_error_at: Date | string | null }>`
      select event_id, event_type, attempts, last_error_at from swan_outbox
       where status = 'dead' and event_type <> ${OPS_ALERT} and coalesce(last_error_at, updated_at) > now() - interval '1 day'
       order by id desc limit 100`.execute(db);
    for (const r of rows) {
      const at = new Date(r.last_error_at ?? 0).toISOString();
      await raise({
        kind: 'dead_letter',
        summary: `outbox event ${r.event_id} (${r.event_type}) is dead-lettered`,
        details: { eventId: r.event_id, eventType: r.event_type, attempts: Number(r.attempts) },
        dedupeKey: `dead_letter:${r.event_id}:${at}`,
      });
    }
    return rows.length;
  };
  const timer = setInterval(() => {
    running = running.then(check).catch((error: unknown) => logger.warn('dead-letter watch failed', { error: error instanceof Error ? error.message : String(error) }));
  }, intervalMs);
  timer.unref();
  return {
    check: () => {
      const result = running.then(check);
      running = result.catch(() => undefined);
      return result;
    },
    async stop() {
      clearInterval(timer);
      await running.catch(() => undefined);
    },
  };
}

/** Sets `ctx.alert` and registers the alert handlers; returns the sink. */
export function installAlerts(ctx: ServerContext, outbox: Outbox): AlertSink {
  const sink = createAlertSink({ db: ctx.db, outbox, logger: ctx.logger, ...(ctx.config.alertWebhookUrl ? { webhookUrl: ctx.config.alertWebhookUrl } : {}) });
  ctx.alert = sink.raise;
  return sink;
}
