// bench/outbox: @swan/outbox vs graphile-worker 0.17 (default and localQueue 500) vs pg-boss 10
// on the same PostgreSQL, each in its own scratch database.
//   enqueue: bulk (1,000 per call) and one transaction per event (10 in parallel)
//   drain:   N pre-queued no-op events at concurrency 10
//   latency: publish (one statement each, as addJob/send) → handler start, sequential, LISTEN wake-up
// `npx tsx outbox/run.ts [--quick]` (quick: smaller N). DATABASE_URL: a superuser URL.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { sql, type Kysely } from 'kysely';
import { createDatabase, migrate, migrations as core } from '@swan/core';
import { createOutbox, createWorker, migrations as outboxMigrations } from '@swan/outbox';
import { pgListen } from '@swan/outbox/pg-listen';
import { Logger, makeWorkerUtils, run as runGraphile, type RunnerOptions } from 'graphile-worker';
import PgBoss from 'pg-boss';

const BASE = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const QUICK = process.argv.includes('--quick');
const DRAIN_N = Number(process.env.OUTBOX_BENCH_N ?? (QUICK ? 10_000 : 50_000));
const BULK_N = QUICK ? 10_000 : 50_000;
const SINGLE_N = QUICK ? 1_000 : 3_000;
const LAT_N = QUICK ? 200 : 1_000;
const C = 10;
const ROUNDS = QUICK ? 1 : 2;
/** graphile-worker's default mode drains about 1,000/s here: fewer events, one round. */
const SLOW_DRAIN_N = Math.min(DRAIN_N, QUICK ? 5_000 : 20_000);

// Dropping the scratch databases at the end terminates pools the peers keep idle: ignore only that.
process.on('uncaughtException', (e) => {
  if (!/terminating connection due to administrator command/.test(String(e))) throw e;
});

const admin = createDatabase({ url: BASE, poolSize: 1 });
const scratch: string[] = [];
async function freshDb(): Promise<string> {
  const name = `swan_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await sql.raw(`create database ${name}`).execute(admin);
  scratch.push(name);
  const u = new URL(BASE);
  u.pathname = `/${name}`;
  return u.toString();
}

const quiet = new Logger(() => () => undefined);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function parallel(n: number, workers: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < n) await fn(next++);
  }));
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

interface Result {
  bulk?: number;
  single?: number;
  drain?: number;
  p50?: number;
  p99?: number;
}

/** Drain helper: resolves when `count` reached N. */
function counter(n: number) {
  let done = 0;
  let resolve!: () => void;
  const finished = new Promise<void>((r) => (resolve = r));
  return { hit: () => { if (++done === n) resolve(); }, finished };
}

/** Latency helper: `seen(key)` from the handler; `measure` publishes n keys one after another. */
function latencyProbe() {
  const waiters = new Map<string, (t: number) => void>();
  return {
    seen: (key: string) => waiters.get(key)?.(performance.now()),
    async measure(n: number, publish: (key: string) => Promise<unknown>): Promise<Pick<Result, 'p50' | 'p99'>> {
      await sleep(200);
      const lat: number[] = [];
      for (let i = 0; i < n; i++) {
        const key = randomUUID();
        const seen = new Promise<number>((r) => waiters.set(key, r));
        const t = performance.now();
        await publish(key);
        lat.push((await seen) - t);
      }
      return { p50: pct(lat, 50), p99: pct(lat, 99) };
    },
  };
}

// ---------------------------------------------------------------- ours
async function swanDb(): Promise<{ url: string; db: Kysely<any> }> {
  const url = await freshDb();
  const db = createDatabase({ url, poolSize: C + 2 });
  await migrate(db, [core, outboxMigrations]);
  return { url, db };
}
const event = () => ({ eventType: 'client_erased' as const, payload: { clientId: randomUUID() } });

type Phase = 'enqueue' | 'drain' | 'latency';

async function ours(phase: Phase): Promise<Result> {
  const r: Result = {};
  if (phase === 'enqueue') {
    const { db } = await swanDb();
    const outbox = createOutbox({ db });
    let t = performance.now();
    for (let i = 0; i < BULK_N; i += 1000) await db.transaction().execute((trx) => outbox.publishMany(trx, Array.from({ length: 1000 }, event)));
    r.bulk = BULK_N / ((performance.now() - t) / 1000);
    t = performance.now();
    await parallel(SINGLE_N, C, () => db.transaction().execute((trx) => outbox.publish(trx, event())));
    r.single = SINGLE_N / ((performance.now() - t) / 1000);
    await db.destroy();
  }
  if (phase === 'drain') {
    const { db } = await swanDb();
    const outbox = createOutbox({ db });
    for (let i = 0; i < DRAIN_N; i += 5000) await db.transaction().execute((trx) => outbox.publishMany(trx, Array.from({ length: Math.min(5000, DRAIN_N - i) }, event)));
    await sql`vacuum analyze swan_outbox`.execute(db);
    const c = counter(DRAIN_N);
    const worker = createWorker({ db, handlers: { client_erased: async () => c.hit() }, concurrency: C, batchSize: 500 });
    const t = performance.now();
    await worker.start();
    await c.finished;
    await worker.stop();
    r.drain = DRAIN_N / ((performance.now() - t) / 1000);
    const { rows } = await sql<{ n: number }>`select count(*) as n from swan_outbox where status = 'completed'`.execute(db);
    if (Number(rows[0]!.n) !== DRAIN_N) throw new Error(`ours: ${rows[0]!.n} completed of ${DRAIN_N}`);
    await db.destroy();
  }
  if (phase === 'latency') {
    const { url, db } = await swanDb();
    const outbox = createOutbox({ db });
    const probe = latencyProbe();
    const worker = createWorker({ db, handlers: { client_erased: async (e) => probe.seen(String(e.payload.key)) }, concurrency: C, listen: pgListen(url) });
    await worker.start();
    // one statement per publish (autocommit), as graphile-worker's addJob and pg-boss's send
    Object.assign(r, await probe.measure(LAT_N, (key) => outbox.publish(db, { eventType: 'client_erased', payload: { clientId: randomUUID(), key } as { clientId: string } })));
    await worker.stop();
    await db.destroy();
  }
  return r;
}

// ---------------------------------------------------------------- graphile-worker
const LOCAL_QUEUE: Partial<RunnerOptions> = { preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } };

async function graphileEnqueue(): Promise<Result> {
  const connectionString = await freshDb();
  const utils = await makeWorkerUtils({ connectionString, logger: quiet });
  await utils.migrate();
  let t = performance.now();
  for (let i = 0; i < BULK_N; i += 1000) await utils.addJobs(Array.from({ length: 1000 }, () => ({ identifier: 'noop', payload: { clientId: randomUUID() } })));
  const bulk = BULK_N / ((performance.now() - t) / 1000);
  t = performance.now();
  await parallel(SINGLE_N, C, () => utils.addJob('noop', { clientId: randomUUID() }));
  const single = SINGLE_N / ((performance.now() - t) / 1000);
  await utils.release();
  return { bulk, single };
}

async function graphile(mode: Partial<RunnerOptions>, phase: Phase): Promise<Result> {
  if (phase === 'enqueue') return graphileEnqueue();
  const r: Result = {};
  if (phase === 'drain') {
    const n = mode === LOCAL_QUEUE ? DRAIN_N : SLOW_DRAIN_N;
    const connectionString = await freshDb();
    const utils = await makeWorkerUtils({ connectionString, logger: quiet });
    await utils.migrate();
    for (let i = 0; i < n; i += 5000) await utils.addJobs(Array.from({ length: Math.min(5000, n - i) }, () => ({ identifier: 'noop', payload: { clientId: randomUUID() } })));
    await utils.release();
    const c = counter(n);
    const t = performance.now();
    const runner = await runGraphile({ connectionString, concurrency: C, noHandleSignals: true, logger: quiet, taskList: { noop: async () => c.hit() }, ...mode });
    await c.finished;
    await runner.stop();
    r.drain = n / ((performance.now() - t) / 1000);
  }
  if (phase === 'latency') {
    const connectionString = await freshDb();
    const probe = latencyProbe();
    const runner = await runGraphile({ connectionString, concurrency: C, noHandleSignals: true, logger: quiet, taskList: { noop: async (p) => probe.seen((p as { key: string }).key) }, ...mode });
    Object.assign(r, await probe.measure(LAT_N, (key) => runner.addJob('noop', { key })));
    await runner.stop();
  }
  return r;
}

// ---------------------------------------------------------------- pg-boss
async function boss(phase: Phase): Promise<Result> {
  const r: Result = {};
  const start = async () => {
    const b = new PgBoss({ connectionString: await freshDb(), max: C + 2, supervise: false, schedule: false });
    b.on('error', () => undefined);
    await b.start();
    await b.createQueue('noop');
    return b;
  };
  if (phase === 'enqueue') {
    const b = await start();
    let t = performance.now();
    for (let i = 0; i < BULK_N; i += 1000) await b.insert(Array.from({ length: 1000 }, () => ({ name: 'noop', data: { clientId: randomUUID() } })));
    r.bulk = BULK_N / ((performance.now() - t) / 1000);
    t = performance.now();
    await parallel(SINGLE_N, C, () => b.send('noop', { clientId: randomUUID() }));
    r.single = SINGLE_N / ((performance.now() - t) / 1000);
    await b.stop({ graceful: false, wait: true });
  }
  if (phase === 'drain') {
    const b = await start();
    const n = Math.min(DRAIN_N, QUICK ? 5_000 : 10_000); // pg-boss is slow: a smaller N keeps the run short
    for (let i = 0; i < n; i += 1000) await b.insert(Array.from({ length: 1000 }, () => ({ name: 'noop', data: {} })));
    const c = counter(n);
    const t = performance.now();
    for (let i = 0; i < C; i++) await b.work('noop', { batchSize: 50, pollingIntervalSeconds: 0.5 }, async (jobs) => jobs.forEach(() => c.hit()));
    await c.finished;
    r.drain = n / ((performance.now() - t) / 1000);
    await b.stop({ graceful: false, wait: true });
  }
  if (phase === 'latency') {
    const b = await start();
    const probe = latencyProbe();
    await b.work('noop', { pollingIntervalSeconds: 0.5 }, async ([job]) => probe.seen((job!.data as { key: string }).key));
    // 0.5 s minimum polling: 40 samples are plenty
    Object.assign(r, await probe.measure(Math.min(LAT_N, 40), (key) => b.send('noop', { key })));
    await b.stop({ graceful: false, wait: true });
  }
  return r;
}

// ---------------------------------------------------------------- report
const fmt = (v: number | undefined, digits = 0) => (v === undefined ? '—' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
try {
  // Phase by phase, so every system meets the same machine load; drains are best of ROUNDS.
  const systems: [string, (phase: Phase) => Promise<Result>][] = [
    ['@swan/outbox (batch 500)', ours],
    ['graphile-worker 0.17 default', (p) => graphile({}, p)],
    ['graphile-worker 0.17 localQueue 500', (p) => graphile(LOCAL_QUEUE, p)],
    ['pg-boss 10 (batch 50)', boss],
  ];
  const results = new Map<string, Result>(systems.map(([name]) => [name, {}]));
  let graphileEnqueued: Result | undefined;
  for (const phase of ['enqueue', 'drain', 'latency'] as const) {
    for (let round = 0; round < (phase === 'drain' ? ROUNDS : 1); round++) {
      for (const [name, run] of systems) {
        if (round > 0 && !/swan|localQueue/.test(name)) continue; // slow drains: one round
        const r = name.startsWith('graphile') && phase === 'enqueue' ? (graphileEnqueued ??= await run(phase)) : await run(phase);
        const acc = results.get(name)!;
        if (r.drain !== undefined && (acc.drain ?? 0) > r.drain) delete r.drain;
        Object.assign(acc, r);
      }
    }
  }
  const rows = [...results.entries()];
  const o = results.get('@swan/outbox (batch 500)')!;
  const gd = results.get('graphile-worker 0.17 default')!;
  const gl = results.get('graphile-worker 0.17 localQueue 500')!;
  const pb = results.get('pg-boss 10 (batch 50)')!;
  console.log(`\noutbox bench: drain N=${DRAIN_N} best of ${ROUNDS} (graphile default ${SLOW_DRAIN_N} and pg-boss ${Math.min(DRAIN_N, QUICK ? 5_000 : 10_000)}, one round), C=${C}, enqueue bulk ${BULK_N} / single ${SINGLE_N}, latency ${LAT_N} sequential\n`);
  console.log('| system | enqueue bulk /s | enqueue 1 tx per event /s | drain /s | ours ÷ this (drain) | latency p50 ms | p99 ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const [name, r] of rows) {
    console.log(`| ${name} | ${fmt(r.bulk)} | ${fmt(r.single)} | ${fmt(r.drain)} | ${fmt(o.drain! / r.drain!, 2)}× | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`);
  }
  const bestGraphile = Math.max(gd.drain!, gl.drain!);
  console.log(`\ndrain vs graphile-worker best mode: ${(o.drain! / bestGraphile).toFixed(2)}× (target ≥ 1.0×, aim 1.5×); vs pg-boss: ${(o.drain! / pb.drain!).toFixed(1)}× (target ≥ 10×); p50 ${o.p50!.toFixed(2)} ms (target < 5 ms)`);
} finally {
  for (const name of scratch) await sql.raw(`drop database if exists ${name} with (force)`).execute(admin).catch(() => undefined);
  await admin.destroy();
}
