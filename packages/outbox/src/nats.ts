// `@swan/outbox/nats`: the one module that imports `nats` (an optional peer), so the main entry
// loads without it. The worker recognises an UnavailableError by its `unavailable` flag, not its
// class, so this entry's bundled copy of the class is the same to it.
import { JSONCodec, headers as natsHeaders, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { UnavailableError, type OutboxHandler } from './worker.js';
import { injectTraceHeaders } from './telemetry.js';

export interface NatsRelayOptions {
  /** A connection (its JetStream client is used) or a JetStream client. */
  nc?: NatsConnection;
  js?: JetStreamClient;
  /** Subjects are `<subjectPrefix>.<eventType>` (default `swan.events`). */
  subjectPrefix?: string;
  /** Publish ack timeout (default 5000 ms); a timeout releases the event for a later retry (no attempt counted). */
  timeoutMs?: number;
  /**
   * False while the connection is down: the handler then fails fast with an `UnavailableError`
   * instead of waiting for the ack timeout (default: `!nc.isClosed()` and not reconnecting, when
   * `nc` is given).
   */
  connected?: () => boolean;
}

// Connection-level failures: NATS (or the stream's leader) is unreachable, the message itself is fine.
const UNAVAILABLE_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_DRAINING', 'CONNECTION_REFUSED', 'CONNECTION_TIMEOUT', 'DISCONNECT', 'TIMEOUT', '503', '408', 'CANCELLED', 'REQUEST_ERROR']);
// JetStream API errors that mean "try later": 10008 JetStream temporarily unavailable, 10023
// insufficient resources, 10039 JetStream not enabled for the account (during a server restart).
const UNAVAILABLE_JS_ERRORS = new Set([10008, 10023, 10039]);

/**
 * True when a NATS publish failed because NATS could not be reached (connection closed or
 * reconnecting, ack timeout, no responders, JetStream temporarily unavailable), false when the
 * server rejected the message (permissions, size, a stream error): the relay retries the former
 * without counting an attempt and the latter as an ordinary failed attempt.
 *
 * @example
 * ```ts
 * try { await js.publish(subject, data); } catch (e) { if (isNatsUnavailable(e)) scheduleRetry(); else throw e; }
 * ```
 */
export function isNatsUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; api_error?: { err_code?: unknown; code?: unknown }; chainedError?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  const jsCode = Number(e.api_error?.err_code);
  if (e.api_error) return UNAVAILABLE_JS_ERRORS.has(jsCode) || Number(e.api_error.code) === 503;
  if (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) return true;
  // socket errors surfaced as is (ECONNREFUSED, ECONNRESET, …)
  return typeof e.code === 'string' && /^E(CONN|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|AI_AGAIN)/.test(e.code);
}

const codec = JSONCodec();

/** The message body the relay publishes. */
export interface RelayedEvent {
  eventId: string;
  eventType: string;
  aggregateType: string;
  aggregateId: string | null;
  payload: Record<string, unknown>;
  createdAt: string;
}

/**
 * A worker handler that relays each event to JetStream subject `<prefix>.<eventType>` with
 * `Nats-Msg-Id` = the event id. The event completes only after the stream acknowledged it; a
 * re-sent event inside the stream's duplicate window is dropped by JetStream, so consumers see
 * each event once. Register it as the `'*'` handler, and as the last step after a local handler
 * (`handlers[type] = [local, relay]`) so a relay retry does not re-run the local side effect.
 * When NATS is unreachable it throws an `UnavailableError`: the worker retries the event later
 * without counting an attempt, so an outage never dead-letters events; a message the server
 * rejects counts as a failed attempt.
 *
 * @example
 * ```ts
 * import { connect } from 'nats';
 * import { ensureOutboxStream, natsRelayHandler } from '@swan/outbox/nats';
 *
 * const nc = await connect({ servers: process.env.NATS_URL });
 * await ensureOutboxStream(await nc.jetstreamManager());
 * const worker = createWorker({ db, handlers: { '*': natsRelayHandler({ nc }) } });
 * ```
 */
export function natsRelayHandler(options: NatsRelayOptions): OutboxHandler {
  const js = options.js ?? options.nc?.jetstream();
  if (!js) throw new TypeError('natsRelayHandler needs nc or js');
  const prefix = options.subjectPrefix ?? 'swan.events';
  const timeout = options.timeoutMs ?? 5000;
  const nc = options.nc;
  let up = true;
  if (nc && !options.connected) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') up = false;
        if (s.type === 'reconnect') up = true;
      }
    })().catch(() => undefined);
  }
  const connected = options.connected ?? (nc ? () => up && !nc.isClosed() : () => true);
  return async (event) => {
    if (!connected()) throw new UnavailableError('NATS is not connected');
    const h = natsHeaders();
    h.set('Swan-Event-Type', event.eventType);
    injectTraceHeaders(h);
    const body: RelayedEvent = {
      eventId: event.eventId,
      eventType: event.eventType,
      aggregateType: event.aggregateType,
      aggregateId: event.aggregateId,
      payload: event.payload,
      createdAt: event.createdAt.toISOString(),
    };
    try {
      await js.publish(`${prefix}.${event.eventType}`, codec.encode(body), { msgID: event.eventId, headers: h, timeout });
    } catch (error) {
      if (isNatsUnavailable(error)) throw new UnavailableError(`NATS unavailable: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      throw error;
    }
  };
}

/**
 * Creates (or updates) the stream that receives relayed events: subjects `<prefix>.>`, file
 * storage, duplicate window (default 2 minutes; keep it longer than your longest outage + lease).
 *
 * @example
 * ```ts
 * await ensureOutboxStream(await nc.jetstreamManager(), { name: 'SWAN_EVENTS', duplicateWindowMs: 300_000 });
 * ```
 */
export async function ensureOutboxStream(
  jsm: JetStreamManager,
  { name = 'SWAN_EVENTS', subjectPrefix = 'swan.events', duplicateWindowMs = 120_000 }: { name?: string; subjectPrefix?: string; duplicateWindowMs?: number } = {},
): Promise<void> {
  const config = { name, subjects: [`${subjectPrefix}.>`], duplicate_window: duplicateWindowMs * 1_000_000 };
  try {
    await jsm.streams.info(name);
    await jsm.streams.update(name, config);
  } catch (e) {
    if (!/not found/i.test(String((e as Error)?.message))) throw e;
    await jsm.streams.add(config);
  }
}

/** A connected relay: the handler to register as `'*'`, its health and shutdown. */
export interface NatsRelay {
  handler: OutboxHandler;
  connection: NatsConnection;
  /** True while connected to a server. */
  healthy(): boolean;
  /** Flushes and closes the connection. */
  close(): Promise<void>;
}

/**
 * Connects to NATS (reconnecting forever after the first connection), makes sure the stream
 * exists and returns the relay handler.
 *
 * @example
 * ```ts
 * import { connectNatsRelay } from '@swan/outbox/nats';
 *
 * const relay = await connectNatsRelay({ servers: process.env.NATS_URL! });
 * const worker = createWorker({ db, handlers: { morning_checkin_scheduled: [sendSms, relay.handler], '*': relay.handler } });
 * ```
 */
export async function connectNatsRelay(options: {
  servers: string | string[];
  subjectPrefix?: string;
  streamName?: string;
  duplicateWindowMs?: number;
  timeoutMs?: number;
}): Promise<NatsRelay> {
  const { connect } = await import('nats');
  const subjectPrefix = options.subjectPrefix ?? 'swan.events';
  const nc = await connect({ servers: options.servers, maxReconnectAttempts: -1, timeout: options.timeoutMs ?? 5000, name: 'swan-outbox-relay' });
  let up = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') up = false;
      if (s.type === 'reconnect') up = true;
    }
  })().catch(() => undefined);
  try {
    await ensureOutboxStream(await nc.jetstreamManager(), {
      subjectPrefix,
      ...(options.streamName ? { name: options.streamName } : {}),
      ...(options.duplicateWindowMs ? { duplicateWindowMs: options.duplicateWindowMs } : {}),
    });
  } catch (error) {
    await nc.close();
    throw error;
  }
  return {
    handler: natsRelayHandler({ nc, subjectPrefix, connected: () => up && !nc.isClosed(), ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) }),
    connection: nc,
    healthy: () => up && !nc.isClosed(),
    close: () => nc.drain().catch(() => undefined),
  };
}
