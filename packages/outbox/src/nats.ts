import { JSONCodec, headers as natsHeaders, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import type { OutboxHandler } from './worker.js';

export interface NatsRelayOptions {
  /** A connection (its JetStream client is used) or a JetStream client. */
  nc?: NatsConnection;
  js?: JetStreamClient;
  /** Subjects are `<subjectPrefix>.<eventType>` (default `swan.events`). */
  subjectPrefix?: string;
  /** Publish ack timeout (default 5000 ms); a timeout fails the run and the event is retried. */
  timeoutMs?: number;
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
 * each event once. Register it as the `'*'` handler.
 *
 * @example
 * ```ts
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
  return async (event) => {
    const h = natsHeaders();
    h.set('Swan-Event-Type', event.eventType);
    const body: RelayedEvent = {
      eventId: event.eventId,
      eventType: event.eventType,
      aggregateType: event.aggregateType,
      aggregateId: event.aggregateId,
      payload: event.payload,
      createdAt: event.createdAt.toISOString(),
    };
    await js.publish(`${prefix}.${event.eventType}`, codec.encode(body), { msgID: event.eventId, headers: h, timeout });
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
 * const relay = await connectNatsRelay({ servers: process.env.NATS_URL! });
 * const worker = createWorker({ db, handlers: { '*': relay.handler } });
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
    handler: natsRelayHandler({ nc, subjectPrefix, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) }),
    connection: nc,
    healthy: () => up && !nc.isClosed(),
    close: () => nc.drain().catch(() => undefined),
  };
}
