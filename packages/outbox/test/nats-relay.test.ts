import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killProcess, natsUrl, testEngines, type TestDatabase } from '@swan/test-utils';
import { createOutbox, createWorker, migrations } from '@swan/outbox';
import { ensureOutboxStream, isNatsUnavailable, natsRelayHandler, type RelayedEvent } from '@swan/outbox/nats';

const NATS_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const postgres = testEngines().find((e) => e.name === 'postgres');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Our own nats-server (never the shared one): we restart it. */
class OwnNats {
  child: ChildProcess | undefined;
  constructor(readonly port: number, readonly dir: string) {}
  async start(): Promise<void> {
    this.child = spawn(NATS_BIN, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.dir], { stdio: 'ignore' });
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        const nc = await connect({ servers: this.url, reconnect: false, timeout: 500 });
        await (await nc.jetstreamManager()).getAccountInfo();
        await nc.close();
        return;
      } catch (e) {
        if (Date.now() > end) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  kill(): Promise<void> {
    return killProcess(this.child);
  }
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
}

// natsUrl() makes CI require NATS to be configured; this test runs its own server next to it.
describe.skipIf(!postgres || !natsUrl())('NATS JetStream relay', () => {
  let t: TestDatabase;
  let server: OwnNats;
  let nc: NatsConnection;
  let dir: string;
  beforeAll(async () => {
    t = await postgres!.create([migrations]);
    dir = mkdtempSync(join(tmpdir(), 'swan-nats-'));
    server = new OwnNats(await freePort(), dir);
    await server.start();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    await ensureOutboxStream(await nc.jetstreamManager(), { name: 'SWAN_TEST', subjectPrefix: 'swantest', duplicateWindowMs: 300_000 });
  });
  afterAll(async () => {
    await nc?.close().catch(() => undefined);
    await server?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await t?.close();
  });

  it('drops a re-sent event inside the duplicate window', async () => {
    const relay = natsRelayHandler({ nc, subjectPrefix: 'swantest' });
    const event = { id: 1, eventId: randomUUID(), eventType: 'client_erased', payload: { clientId: randomUUID() }, aggregateType: '', aggregateId: null, attempts: 0, maxAttempts: 5, stepsDone: 0, createdAt: new Date() };
    const jsm = await nc.jetstreamManager();
    const before = (await jsm.streams.info('SWAN_TEST')).state.messages;
    await relay(event, { signal: new AbortController().signal, workerId: 'w' });
    await relay(event, { signal: new AbortController().signal, workerId: 'w' });
    expect((await jsm.streams.info('SWAN_TEST')).state.messages).toBe(before + 1);
  });

  it('classifies unreachable NATS as unavailable and a rejected message as a failure', async () => {
    const { UnavailableError } = await import('@swan/outbox');
    const event = { id: 1, eventId: randomUUID(), eventType: 'client_erased', payload: { clientId: randomUUID() }, aggregateType: '', aggregateId: null, attempts: 0, maxAttempts: 5, stepsDone: 0, createdAt: new Date() };
    const ctx = { signal: new AbortController().signal, workerId: 'w' };
    // a closed connection: NATS unreachable
    const closed = await connect({ servers: server.url });
    await closed.close();
    await expect(natsRelayHandler({ nc: closed, subjectPrefix: 'swantest' })(event, ctx)).rejects.toBeInstanceOf(UnavailableError);
    // no stream on the subject: no responders
    await expect(natsRelayHandler({ nc, subjectPrefix: 'nostream' })(event, ctx)).rejects.toBeInstanceOf(UnavailableError);
    // the stream rejects the message (expected-stream mismatch is a JetStream API error): an ordinary failure
    const js = nc.jetstream();
    const rejected = await js.publish('swantest.client_erased', new Uint8Array(1), { expect: { streamName: 'NOT_SWAN_TEST' } }).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(Error);
    expect(isNatsUnavailable(rejected)).toBe(false);
  });

  it('delivers every event exactly once into the stream across a NATS outage, with default worker options, none dead, no attempt burned, local step run once', { timeout: 120_000 }, async () => {
    const N = 600;
    const outbox = createOutbox({ db: t.db }); // default maxAttempts (5)
    const published = await t.db.transaction().execute((trx) =>
      outbox.publishMany(trx, Array.from({ length: N }, () => ({ eventType: 'client_erased' as const, payload: { clientId: randomUUID() } }))),
    );
    const relay = natsRelayHandler({ nc, subjectPrefix: 'swantest', timeoutMs: 1000 });
    let relayed = 0;
    const localRuns = new Map<string, number>();
    // default backoff (1 s base), poll interval, concurrency and unavailable backoff
    const worker = createWorker({
      db: t.db,
      handlers: {
        client_erased: [
          async (e) => {
            localRuns.set(e.eventId, (localRuns.get(e.eventId) ?? 0) + 1);
            await new Promise((r) => setTimeout(r, 5));
          },
          async (e, ctx) => {
            await relay(e, ctx);
            relayed++;
          },
        ],
      },
    });
    const jsm = await nc.jetstreamManager();
    const before = (await jsm.streams.info('SWAN_TEST')).state.messages;
    await worker.start();
    let restarted = false;
    try {
      while (relayed < N / 3) await new Promise((r) => setTimeout(r, 10));
      await server.kill();
      // 8 s: with 5 attempts and a 1 s backoff base this outage dead-letters events unless an
      // unreachable NATS is kept apart from a failed attempt
      await new Promise((r) => setTimeout(r, 8000));
      await server.start();
      restarted = true;
      const end = Date.now() + 60_000;
      for (;;) {
        const { rows } = await sql<{ n: number }>`select count(*) as n from swan_outbox where status in ('completed', 'dead')`.execute(t.admin);
        if (Number(rows[0]!.n) === N) break;
        if (Date.now() > end) throw new Error('relay did not finish');
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await worker.stop();
    }
    expect(restarted).toBe(true);
    const { rows: [summary] } = await sql<{ attempts: number; dead: number; deferred: number }>`
      select coalesce(sum(attempts), 0) as attempts, count(*) filter (where status = 'dead') as dead,
             count(*) filter (where last_error like 'UnavailableError%') as deferred from swan_outbox`.execute(t.admin);
    console.log(`relay: ${summary!.deferred} events were deferred across the NATS outage`);
    expect(Number(summary!.deferred)).toBeGreaterThan(0);
    expect(Number(summary!.attempts)).toBe(0);
    expect(Number(summary!.dead)).toBe(0);
    // the local step ran once per event although the relay step was retried
    expect(localRuns.size).toBe(N);
    expect([...localRuns.values()].every((n) => n === 1)).toBe(true);

    const info = await jsm.streams.info('SWAN_TEST');
    expect(info.state.messages - before).toBe(N);
    const js = nc.jetstream();
    const consumer = await js.consumers.get('SWAN_TEST', { opt_start_seq: before + 1 });
    const ids: string[] = [];
    const messages = await consumer.fetch({ max_messages: N, expires: 5000 });
    for await (const m of messages) {
      ids.push((m.json() as RelayedEvent).eventId);
      expect(m.headers?.get('Nats-Msg-Id')).toBe(ids.at(-1));
      if (ids.length === N) break;
    }
    expect(new Set(ids).size).toBe(N);
    expect(new Set(ids)).toEqual(new Set(published.map((p) => p.eventId)));
  });
});
