// The one module of @swan/outbox that talks to `pg` directly (a subpath export, so services and
// the main entry never import it): LISTEN needs a dedicated session, not a pooled Kysely handle.
import type { ListenSource } from './worker.js';

/** Options of {@link pgListen}. */
export interface PgListenOptions {
  /** Connection errors (the source reconnects by itself; nothing here carries a payload). */
  onError?: (error: unknown) => void;
  /** Reconnect delay: doubles from `minMs` up to `maxMs` while the server is unreachable (default 250 ms, 10 s). */
  reconnect?: { minMs?: number; maxMs?: number };
  /** `application_name` of the LISTEN session (default `swan-outbox-listen`), handy in `pg_stat_activity`. */
  applicationName?: string;
}

/**
 * A {@link ListenSource} over one dedicated PostgreSQL connection that `LISTEN`s on
 * `swan_outbox`. When the connection drops (a restart, `pg_terminate_backend`, a network
 * blip) it reconnects with backoff and wakes the worker once on every (re)connect, so events
 * published while it was not listening are claimed at once. Given a worker's push channel
 * (see `WorkerOptions.push`), it also LISTENs there, passes its payloads on, and tells the worker
 * when the connection is lost and back. Not for PgBouncer transaction
 * pooling (LISTEN needs a session): there, give the worker no `listen` and let it poll.
 *
 * @example
 * ```ts
 * import { createWorker } from '@swan/outbox';
 * import { pgListen } from '@swan/outbox/pg-listen';
 *
 * const worker = createWorker({ db, handlers, listen: pgListen(process.env.DATABASE_URL!, { onError: console.warn }) });
 * ```
 */
export function pgListen(url: string, options: PgListenOptions = {}): ListenSource {
  const minMs = options.reconnect?.minMs ?? 250;
  const maxMs = options.reconnect?.maxMs ?? 10_000;
  const applicationName = options.applicationName ?? 'swan-outbox-listen';
  const onError = options.onError ?? (() => undefined);
  return async (onNotify, push) => {
    const pg = await import('pg');
    const Client = pg.default?.Client ?? (pg as unknown as typeof pg.default).Client;
    let closed = false;
    let client: InstanceType<typeof Client> | undefined;
    let timer: NodeJS.Timeout | undefined;
    let delay = minMs;

    const reconnectLater = () => {
      if (closed || timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        void connect().catch((e) => {
          onError(e);
          delay = Math.min(maxMs, delay * 2);
          reconnectLater();
        });
      }, delay);
      timer.unref();
    };

    const connect = async (): Promise<void> => {
      const c = new Client({ connectionString: url, application_name: applicationName });
      let lost = false;
      const drop = (e?: unknown) => {
        if (lost) return;
        lost = true;
        if (e) onError(e);
        if (client === c) {
          client = undefined;
          push?.onDisconnect();
        }
        c.end().catch(() => undefined);
        reconnectLater();
      };
      c.on('notification', (n) => (push && n.channel === push.channel ? push.onPush(n.payload ?? '') : onNotify()));
      c.on('error', drop);
      c.on('end', () => drop());
      try {
        await c.connect();
        await c.query(push ? `listen swan_outbox; listen ${c.escapeIdentifier(push.channel)}` : 'listen swan_outbox');
      } catch (e) {
        lost = true;
        c.end().catch(() => undefined);
        throw e;
      }
      if (closed) {
        await c.end().catch(() => undefined);
        return;
      }
      client = c;
      delay = minMs;
      await push?.onConnect();
      onNotify(); // catch up on anything published while we were not listening
    };

    await connect();
    return async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    };
  };
}
