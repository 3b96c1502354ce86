import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { context } from '@opentelemetry/api';
import type { Kysely } from 'kysely';
import { adopt, claim, complete, extendLeases, fail, pushedEvent, registerListener, release, unregisterListener, type Failure, type OutboxEvent } from './sql.js';
import { createScheduler, type Schedule, type Scheduler, type SchedulerOptions } from './schedules.js';
import { endHandle, startHandleSpan } from './telemetry.js';


/**
 * Throw it from a handler when retrying cannot help (an invalid phone number, a recipient who
 * unsubscribed): the event goes to the dead-letter state at once, with this message as its error.
 * Any error with `permanent: true` has the same effect.
 *
 * @example
 * ```ts
 * handlers: { morning_checkin_scheduled: async (event) => { if (!phone) throw new PermanentError('no phone number on file'); } }
 * ```
 */
export class PermanentError extends Error {
  readonly permanent = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

const isPermanent = (error: unknown): boolean => (error as { permanent?: unknown } | null)?.permanent === true;

/**
 * Throw it from a handler (or a step) when a dependency is unreachable rather than the event
 * being wrong: NATS is down, a publish ack timed out. The event goes back to pending after the
 * worker's `unavailableBackoff` WITHOUT counting an attempt, so an outage of any length never
 * dead-letters events. Any error with `unavailable: true` has the same effect. The NATS relay
 * throws it for connection, timeout and no-responders errors (a rejected message still counts).
 *
 * @example
 * ```ts
 * handlers: { '*': async (event) => { if (!broker.connected) throw new UnavailableError('broker down'); await broker.send(event); } }
 * ```
 */
export class UnavailableError extends Error {
  readonly unavailable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnavailableError';
  }
}

const isUnavailable = (error: unknown): boolean => (error as { unavailable?: unknown } | null)?.unavailable === true;

/**
 * Retry delay with full jitter: uniform in [0, min(capMs, baseMs · 2^attempts)].
 *
 * @example
 * ```ts
 * backoffDelay(3, 1000, 300_000); // somewhere in [0, 8000] ms
 * ```
 */
export function backoffDelay(attempts: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  return random() * Math.min(capMs, baseMs * 2 ** attempts);
}

/** What a handler gets besides the event. */
export interface HandlerContext {
  /** Aborted when the worker stops without grace or loses the event's lease. */
  signal: AbortSignal;
  workerId: string;
}

/**
 * Handles one event. Resolve to complete it; throw to retry it with backoff (or dead-letter it
 * after its last attempt). Handlers must be idempotent: delivery is at least once. The error's
 * message is stored (truncated to 500 characters): never put PII or secrets in it.
 */
export type OutboxHandler<P = any> = (event: OutboxEvent<P>, ctx: HandlerContext) => Promise<void>;

/**
 * A handler, or steps run in order (e.g. `[sendSms, relayToNats]`). The number of steps that
 * succeeded is stored when a later step fails, so a retry resumes after them: a failed relay
 * does not send the SMS again. (A crash between steps re-runs them: delivery is at least once.)
 */
export type OutboxHandlerSteps<P = any> = OutboxHandler<P> | readonly OutboxHandler<P>[];

/** What a worker asks of a {@link ListenSource} to receive pushed events (see `WorkerOptions.push`). */
export interface PushChannel {
  /** Also LISTEN on this channel (`swan_outbox.<16 hex digits>`). */
  channel: string;
  /** Called with the payload of each notification on `channel`. */
  onPush: (payload: string) => void;
  /** Awaited once LISTEN on `channel` succeeded: at the first connection and at every reconnection. */
  onConnect: () => Promise<void>;
  /** Called when the connection is lost: notifications are missed until the next `onConnect`. */
  onDisconnect: () => void;
}

/**
 * Subscribes to outbox notifications; resolves to an unsubscribe function. A source that supports
 * `push` (as `pgListen` does) also listens on its channel and calls its callbacks; the worker
 * registers for pushes only when `onConnect` is called, so a source that ignores `push` still works.
 */
export type ListenSource = (onNotify: () => void, push?: PushChannel) => Promise<() => Promise<void>>;

export interface WorkerOptions {
  db: Kysely<any>;
  /**
   * Handlers (or steps, see {@link OutboxHandlerSteps}) by event type; `'*'` handles every other
   * type (e.g. the NATS relay). Only these types are claimed.
   */
  handlers: Record<string, OutboxHandlerSteps>;
  /** Handlers running at once (default 10). */
  concurrency?: number;
  /** Events claimed per statement and buffered locally (default 100; up to three claims in flight while more are due). */
  batchSize?: number;
  /** Lease per claim; a crashed worker's events return after it (default 30 s). */
  leaseMs?: number;
  /** Extend leases of held events every `leaseMs / 3` (default true), or every N ms. */
  heartbeat?: boolean | number;
  /** Poll for due events (retries, scheduled events, missed notifications) every N ms (default 1000). */
  pollIntervalMs?: number;
  /**
   * Wake on NOTIFY: a {@link ListenSource}, usually `pgListen(url)` from `@swan/outbox/pg-listen`
   * (one dedicated PostgreSQL connection; LISTEN does not work through PgBouncer transaction
   * pooling: leave it `false` there and rely on polling). Default `false`.
   */
  listen?: false | ListenSource;
  /**
   * Take events straight from publish (default true; needs a `listen` source that supports it,
   * like `pgListen`; never for `ordered` workers). The worker registers in
   * `swan_outbox_listeners`; a publish of one due event in a READ COMMITTED transaction then
   * leases it to one registered worker that handles its type and sends it whole in a
   * notification on that worker's own channel: it runs without a claim, and no other worker is
   * woken. Events pushed while the worker's LISTEN connection was down are taken over when it
   * reconnects; a worker that dies with pushed events returns them when their lease expires, as
   * with claimed ones. The worker stops taking pushes while `batchSize` events wait in its buffer.
   */
  push?: boolean;
  /**
   * Poison events: an event whose lease expired this many times without its worker completing or
   * failing it (the worker crashed, was killed or hung) goes dead with the error "worker lost N
   * times" (default 3). Lease expiries are not attempts: `maxAttempts` counts handler failures.
   */
  maxLeaseExpiries?: number;
  /**
   * Recurring schedules (graphile-worker's crontab): each slot is one event with the idempotency
   * key `schedule:<name>:<slot ISO time>`, published once however many workers run them; the next
   * occurrence is queued at `start()` and whenever an occurrence is claimed (see
   * {@link createScheduler}). `[]` runs the scheduler for stored (per-client) schedules only.
   */
  schedules?: readonly Schedule[];
  /** Options of the scheduler `schedules` creates (repair interval, payload validators, stored schedules). */
  scheduler?: Omit<SchedulerOptions, 'db' | 'schedules'>;
  /** Per-aggregate ordering: events of one aggregate never run concurrently or out of order. */
  ordered?: boolean;
  /** Retry delay: full jitter, random(0, min(capMs, baseMs · 2^attempts)) (default 1 s, 5 min). */
  backoff?: { baseMs?: number; capMs?: number };
  /**
   * Delay before retrying an event whose handler threw an {@link UnavailableError} (no attempt is
   * counted): random in [d/2, d] with d the time since this worker's dependency became
   * unavailable (its first unavailable run since the last success), clamped to [baseMs, capMs]
   * (default 500 ms, 30 s): retries thin out as an outage lasts, and resume within about the
   * outage's length (at most `capMs`) after it ends.
   */
  unavailableBackoff?: { baseMs?: number; capMs?: number };
  /**
   * Completions are written in batches: after `flushMs` or `flushSize` (default 200) events, or
   * with the next claim if that comes first. `flushMs` defaults to 10, and to 2 for `ordered`
   * workers, where a finished event makes the next one of its aggregate claimable only once it is
   * written. (Pushed events come without a claim: a short wait would send one completion
   * statement per event, each competing with the next event's publish.)
   */
  flushMs?: number;
  flushSize?: number;
  /** Lease owner id (default host:pid:random). */
  workerId?: string;
  /** Called on infrastructure errors and dead letters (never with payloads). */
  onError?: (error: unknown, context: { phase: string; eventId?: string }) => void;
}

export interface Worker {
  readonly workerId: string;
  start(): Promise<void>;
  /**
   * Stops claiming. `graceful` (default): running handlers finish, buffered events are released.
   * Otherwise running handlers are aborted and every held event is released at once. Released
   * events go back to pending without counting an attempt.
   */
  stop(options?: { graceful?: boolean; timeoutMs?: number }): Promise<void>;
  /** Resolves when nothing is buffered or running (tests, drains). */
  idle(): Promise<void>;
  /** The scheduler of `schedules` (undefined without them). */
  readonly scheduler: Scheduler | undefined;
}

const MAX_ERROR = 500;
/** A pushing worker refreshes its registration this often; publishers skip it after PUSH_TTL_MS without one. */
const PUSH_REFRESH_MS = 2000;
const PUSH_TTL_MS = 6000;

/**
 * One handler run: the context its handler gets (`signal`, `workerId`), and the worker's state of
 * the run. The AbortController is made only when the handler reads `signal`: creating one costs
 * more than the rest of a no-op event's dispatch.
 */
class RunControl implements HandlerContext {
  aborted = false;
  private reason: unknown;
  private controller: AbortController | undefined;
  constructor(
    readonly workerId: string,
    /** Steps of the event's handler that succeeded (resumed after on retry). */
    public stepsDone: number,
  ) {}
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

/** Runs the steps not done yet, counting them on `control` (a failure keeps the count). */
async function runSteps(steps: readonly OutboxHandler[], event: OutboxEvent, control: RunControl): Promise<void> {
  for (; control.stepsDone < steps.length && !control.aborted; control.stepsDone++) await steps[control.stepsDone]!(event, control);
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, MAX_ERROR);
}

/**
 * Creates a worker that claims events in batches under a lease (FOR UPDATE SKIP LOCKED), runs
 * their handlers with bounded concurrency, and writes completions and failures in batches.
 *
 * @example
 * ```ts
 * const worker = createWorker({
 *   db,
 *   handlers: { morning_checkin_scheduled: async (event, { signal }) => sms.send(event.payload.clientId, { signal }) },
 *   concurrency: 10,
 *   listen: pgListen(process.env.DATABASE_URL!), // from '@swan/outbox/pg-listen'
 * });
 * await worker.start();
 * process.on('SIGTERM', () => worker.stop());
 * ```
 */
export function createWorker(options: WorkerOptions): Worker {
  const db = options.db;
  const workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const concurrency = Math.max(1, options.concurrency ?? 10);
  const batchSize = Math.max(1, options.batchSize ?? 100);
  const leaseMs = Math.max(100, options.leaseMs ?? 30_000);
  const heartbeatMs = options.heartbeat === false ? 0 : typeof options.heartbeat === 'number' ? options.heartbeat : Math.floor(leaseMs / 3);
  const pollMs = Math.max(10, options.pollIntervalMs ?? 1000);
  const baseMs = options.backoff?.baseMs ?? 1000;
  const capMs = options.backoff?.capMs ?? 300_000;
  const unavailableBaseMs = options.unavailableBackoff?.baseMs ?? 500;
  const unavailableCapMs = options.unavailableBackoff?.capMs ?? 30_000;
  let unavailableSince = 0;
  const maxLeaseExpiries = options.maxLeaseExpiries ?? 3;
  if (!Number.isInteger(maxLeaseExpiries) || maxLeaseExpiries < 1) throw new TypeError('maxLeaseExpiries must be an integer ≥ 1');
  const flushMs = options.flushMs ?? (options.ordered === true ? 2 : 10);
  const flushSize = options.flushSize ?? 200;
  const handlers: Record<string, readonly OutboxHandler[]> = Object.fromEntries(
    Object.entries(options.handlers).map(([type, h]) => [type, typeof h === 'function' ? [h] : [...h]]),
  );
  const lowWater = Math.max(concurrency, Math.ceil(batchSize / 4));
  const ordered = options.ordered === true;
  const eventTypes = '*' in handlers ? null : Object.keys(handlers);
  const report = (error: unknown, phase: string, eventId?: string) => options.onError?.(error, eventId ? { phase, eventId } : { phase });
  const scheduler = options.schedules === undefined ? undefined : createScheduler({
    db,
    schedules: options.schedules,
    ...options.scheduler,
    onError: (e, c) => {
      options.scheduler?.onError?.(e, c);
      report(e, c.phase);
    },
  });

  const queue: OutboxEvent[] = [];
  const running = new Map<number | string, RunControl>();
  let completions: (number | string)[] = [];
  let failures: Failure[] = [];
  // ids of completions and failures being written (by a flush, or by a claim carrying completions)
  const writing = new Set<readonly (number | string)[]>();
  let started = false;
  let fetching = false;
  // Due events may wait that no claim has taken yet (a notification, a poll, a full batch): claim
  // again as soon as the buffer wants more. False after a claim that found fewer than a batch,
  // so finishing handlers of a drained table do not send empty claims.
  let again = false;
  let flushing: Promise<void> | null = null;
  let flushTimer: NodeJS.Timeout | null = null;
  let pollTimer: NodeJS.Timeout | null = null;
  let heartbeatTimer: NodeJS.Timeout | null = null;
  let unlisten: (() => Promise<void>) | null = null;
  // this worker's push channel (null: it takes no pushes); registered for pushes (LISTEN on the
  // channel is up); the ids taken over at the last reconnect whose notification may still come
  const pushChannel = options.push !== false && !ordered && options.listen ? `swan_outbox.${randomBytes(8).toString('hex')}` : null;
  let pushing = false;
  let adopted = new Set<string>();
  let pushTimer: NodeJS.Timeout | null = null;
  let idleWaiters: (() => void)[] = [];

  const busy = () => queue.length > 0 || running.size > 0 || completions.length > 0 || failures.length > 0 || flushing !== null;
  const checkIdle = () => {
    if (!busy() && !fetching) {
      const w = idleWaiters;
      idleWaiters = [];
      w.forEach((f) => f());
    }
  };

  const flush = (): Promise<void> => {
    if (flushTimer) {
      clearTimeout(flushTimer);
      flushTimer = null;
    }
    if (flushing) return flushing;
    let wrote = false;
    flushing = (async () => {
      while (completions.length || failures.length) {
        const done = completions;
        const failed = failures;
        completions = [];
        failures = [];
        const ids = failed.length ? [...done, ...failed.map((f) => f.id)] : done;
        writing.add(ids);
        try {
          // a large batch (it grew while the previous write ran) as two statements on two connections
          const half = done.length >= 2 * flushSize ? Math.ceil(done.length / 2) : done.length;
          await Promise.all([
            done.length ? complete(db, workerId, done.slice(0, half)) : undefined,
            half < done.length ? complete(db, workerId, done.slice(half)) : undefined,
            failed.length
              ? fail(db, workerId, failed).then((rows) => rows.filter((r) => r.status === 'dead').forEach((r) => report(new Error('dead-lettered'), 'dead', r.eventId)))
              : undefined,
          ]);
          wrote = true;
        } catch (e) {
          // The leases stay held: the heartbeat keeps them, the next flush retries the writes.
          completions.push(...done);
          failures.push(...failed);
          report(e, 'flush');
          await new Promise((r) => setTimeout(r, 200));
          if (!started && !running.size) break;
        } finally {
          writing.delete(ids);
        }
      }
    })().finally(() => {
      flushing = null;
      // ordered: a finished event makes the next one of its aggregate claimable
      if (wrote && ordered) {
        again = true;
        fill();
      }
      checkIdle();
    });
    return flushing;
  };

  const takeCompletions = () => {
    const done = completions;
    completions = [];
    if (flushTimer && !failures.length) {
      clearTimeout(flushTimer);
      flushTimer = null;
    }
    return done;
  };

  const scheduleFlush = () => {
    if (completions.length + failures.length >= flushSize) void flush();
    else if (!flushTimer && !flushing) flushTimer = setTimeout(() => void flush(), flushMs);
    // while a flush runs, its loop picks up what accumulates (group commit)
  };

  const run = async (event: OutboxEvent) => {
    const control = new RunControl(workerId, event.stepsDone);
    running.set(event.id, control);
    try {
      const steps = handlers[event.eventType] ?? handlers['*'];
      if (!steps) throw new Error(`No handler for ${event.eventType}`);
      // an occurrence of a schedule queues the next one first, whatever its handler does
      if (event.schedule && scheduler) await scheduler.advance(event.schedule.name).catch((e) => report(e, 'schedule', event.eventId));
      const startMs = performance.now();
      const span = startHandleSpan(event);
      try {
        await (span ? context.with(span.context, runSteps, undefined, steps, event, control) : runSteps(steps, event, control));
      } catch (error) {
        endHandle(span, event.eventType, startMs, true, error);
        throw error;
      }
      endHandle(span, event.eventType, startMs, false);
      if (!control.aborted) {
        completions.push(event.id);
        unavailableSince = 0;
      }
    } catch (error) {
      if (!control.aborted) {
        const failure: Failure = { id: event.id, error: errorText(error), delayMs: 0, stepsDone: control.stepsDone };
        if (isUnavailable(error)) {
          const now = Date.now();
          if (!unavailableSince) unavailableSince = now;
          const d = Math.min(unavailableCapMs, Math.max(unavailableBaseMs, now - unavailableSince));
          failure.delayMs = d / 2 + (Math.random() * d) / 2;
          failure.deferred = true;
        } else {
          failure.delayMs = backoffDelay(event.attempts, baseMs, capMs);
          failure.dead = isPermanent(error);
        }
        failures.push(failure);
      }
    } finally {
      running.delete(event.id);
    }
    scheduleFlush();
    dispatch();
    if (started && (again || lastFull) && queue.length < lowWater) void fill();
    checkIdle();
  };

  const dispatch = () => {
    while (started && running.size < concurrency && queue.length) void run(queue.shift() as OutboxEvent);
  };

  // Up to three claims in flight while the table has more than a batch (claims run while the
  // previous batches are being handled: a claim takes longer than a batch of quick handlers);
  // one at a time when it is draining or empty.
  let claiming = 0;
  let lastFull = false;
  const wantMore = () => queue.length + claiming * batchSize < lowWater + (lastFull ? 2 * batchSize : 0);
  const fill = (): void => {
    if (!started) return;
    if (!wantMore() || (claiming > 0 && !(lastFull && claiming < 3))) {
      again = true;
      return;
    }
    while (started && claiming < (lastFull ? 3 : 1) && wantMore()) void claimOnce();
  };
  const claimOnce = async (): Promise<void> => {
    claiming++;
    fetching = true;
    again = false;
    // Completions waiting for their flush are written by the claim: one statement instead of two.
    const done = flushing || completions.length > flushSize ? [] : takeCompletions();
    writing.add(done);
    try {
      const { events, poisoned } = await claim(db, { owner: workerId, leaseMs, limit: batchSize, eventTypes, ordered, maxLeaseExpiries, completed: done });
      // ordered: the claim could not see its own completions yet
      if (done.length && ordered) again = true;
      for (const p of poisoned) report(new Error(`worker lost ${p.leaseExpiries} times`), 'dead', p.eventId);
      if (!started) {
        if (events.length) await release(db, workerId, events.map((e) => e.id));
      } else {
        queue.push(...events);
        lastFull = events.length === batchSize;
        dispatch();
      }
    } catch (e) {
      lastFull = false;
      if (done.length) {
        completions.push(...done);
        scheduleFlush();
      }
      report(e, 'claim');
    } finally {
      writing.delete(done);
      claiming--;
      fetching = claiming > 0;
    }
    if (started && (again || lastFull)) fill();
    checkIdle();
  };

  const held = () => [...queue.map((e) => e.id), ...running.keys(), ...completions, ...failures.map((f) => f.id), ...[...writing].flat()];
  // the registration being written, awaited by stop() so that none lands after its removal
  let registering: Promise<void> = Promise.resolve();
  const register = () =>
    (registering = registerListener(db, { owner: workerId, channel: pushChannel!, eventTypes, leaseMs, accepting: queue.length < batchSize, ttlMs: PUSH_TTL_MS }));

  const onPush = (message: string) => {
    if (!started) return; // stop() gives back whatever this owner still holds
    try {
      const event = pushedEvent(message);
      if (adopted.delete(String(event.id))) return;
      queue.push(event);
      dispatch();
    } catch (e) {
      report(e, 'push');
    }
  };
  // (Re)connected: register, then take over events pushed while no notification could arrive.
  const onPushConnect = async () => {
    if (!started) return;
    try {
      await register();
      if (!started) return; // stop() removes the registration
      pushing = true;
      const events = await adopt(db, workerId, held(), leaseMs);
      const mine = new Set(held().map(String));
      adopted = new Set();
      for (const e of events) {
        if (mine.has(String(e.id))) continue; // its notification came while adopt ran
        adopted.add(String(e.id));
        queue.push(e);
      }
      dispatch();
    } catch (e) {
      report(e, 'push');
    }
  };
  const onPushDisconnect = () => {
    if (!pushing) return;
    pushing = false;
    unregisterListener(db, workerId).catch((e) => report(e, 'push'));
  };

  const heartbeat = async () => {
    const ids = [...queue.map((e) => e.id), ...running.keys()];
    const all = held();
    if (!all.length) return;
    try {
      const kept = await extendLeases(db, workerId, all, leaseMs);
      // A lease another worker took over (this process stalled past it): stop our copy.
      const lost = new Set(ids.map(String).filter((id) => !kept.has(id)));
      if (!lost.size) return;
      for (const [id, c] of running) if (lost.has(String(id))) c.abort(new Error('lease lost'));
      for (let i = queue.length - 1; i >= 0; i--) if (lost.has(String(queue[i]!.id))) queue.splice(i, 1);
    } catch (e) {
      report(e, 'heartbeat');
    }
  };

  return {
    workerId,
    scheduler,
    async start() {
      if (started) return;
      if (scheduler) await scheduler.start();
      started = true;
      pollTimer = setInterval(() => void fill(), pollMs);
      if (heartbeatMs > 0) heartbeatTimer = setInterval(() => void heartbeat(), heartbeatMs);
      if (pushChannel) pushTimer = setInterval(() => void (pushing && register().catch((e) => report(e, 'push'))), PUSH_REFRESH_MS);
      if (options.listen) {
        try {
          const push = pushChannel ? { channel: pushChannel, onPush, onConnect: onPushConnect, onDisconnect: onPushDisconnect } : undefined;
          unlisten = await options.listen(() => void fill(), push);
        } catch (e) {
          report(e, 'listen'); // polling still works
        }
      }
      void fill();
    },
    async stop({ graceful = true, timeoutMs = 30_000 } = {}) {
      if (!started) return;
      started = false;
      if (pollTimer) clearInterval(pollTimer);
      if (pushTimer) clearInterval(pushTimer);
      // publishers stop pushing before this worker stops listening
      if (pushChannel) {
        pushing = false;
        await registering.catch(() => undefined);
        await unregisterListener(db, workerId).catch((e) => report(e, 'push'));
      }
      await unlisten?.().catch(() => undefined);
      unlisten = null;
      while (fetching) await new Promise((r) => setTimeout(r, 5));
      const buffered = queue.splice(0).map((e) => e.id);
      if (!graceful) {
        for (const [id, c] of running) {
          c.abort(new Error('worker stopped'));
          buffered.push(id);
        }
      } else {
        const deadline = Date.now() + timeoutMs;
        while (running.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        for (const [id, c] of running) {
          c.abort(new Error('worker stop timed out'));
          buffered.push(id);
        }
      }
      if (heartbeatTimer) clearInterval(heartbeatTimer);
      await scheduler?.stop();
      await flush();
      // every event still held: the buffered and aborted ones, and any pushed while stopping
      if (buffered.length || pushChannel) await release(db, workerId, pushChannel ? 'all' : buffered).catch((e) => report(e, 'release'));
      checkIdle();
    },
    idle() {
      return busy() || fetching ? new Promise<void>((r) => idleWaiters.push(r)) : Promise.resolve();
    },
  };
}
