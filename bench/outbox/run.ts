// bench/outbox: @swan/outbox against graphile-worker 0.17 and a bare-SQL floor, side by side in
// alternating rounds on the same PostgreSQL, each run in a scratch database of its own.
//   drain:   N pre-queued no-op events at concurrency 10: ours, graphile-worker `localQueue` 500
//            (its fastest mode) and the floor (the same drain of swan_outbox as two bare `pg`
//            statements: claim with UPDATE … id = ANY(ARRAY(SELECT … FOR UPDATE SKIP LOCKED))
//            RETURNING, complete with id = ANY($1))
//   latency: publish (one autocommit statement, as graphile-worker's addJob) → handler start,
//            sequential events after 100 unmeasured ones, LISTEN wake-up: ours, graphile-worker
//            default and `localQueue`
//   publish: sequential publishes, one transaction each (no worker running), after 100 unmeasured
//            ones: ours, graphile-worker `addJob` and pg-boss 10 `send`
// Every round runs each system once, in an order that rotates per round; the page shows the
// median of the per-round ratios and their range.
// `npx tsx outbox/run.ts [--quick]`. DATABASE_URL: a superuser URL. OUTBOX_BENCH_N (drain size),
// OUTBOX_BENCH_ROUNDS, OUTBOX_BENCH_LATENCY_N, OUTBOX_BENCH_PUBLISH_N change the sizes;
// OUTBOX_BENCH_ONLY=drain|latency|publish runs one part; OUTBOX_BENCH_BUSY_CPUS=N measures the latency
// once more while N processes spin at nice 19.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import { createDatabase, migrate, migrations as core } from '@swan/core';
import { createOutbox, createWorker, migrations as outboxMigrations } from '@swan/outbox';
import { pgListen } from '@swan/outbox/pg-listen';
import { Logger, makeWorkerUtils, run as runGraphile, type RunnerOptions } from 'graphile-worker';
import PgBoss from 'pg-boss';

const BASE = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const QUICK = process.argv.includes('--quick');
const DRAIN_N = Number(process.env.OUTBOX_BENCH_N ?? (QUICK ? 10_000 : 50_000));
const ROUNDS = Number(process.env.OUTBOX_BENCH_ROUNDS ?? 5);
const LAT_N = Number(process.env.OUTBOX_BENCH_LATENCY_N ?? (QUICK ? 200 : 2_000));
const PUBLISH_N = Number(process.env.OUTBOX_BENCH_PUBLISH_N ?? (QUICK ? 500 : 2_000));
const WARMUP = 100;
const C = 10;
const BATCH = 500;
const ONLY = process.env.OUTBOX_BENCH_ONLY;
const BUSY_CPUS = Number(process.env.OUTBOX_BENCH_BUSY_CPUS ?? 0);

// Dropping a scratch database terminates pools the peers keep idle: ignore only that.
process.on('uncaughtException', (e) => {
  if (!/terminating connection due to administrator command/.test(String(e))) throw e;
});

const admin = createDatabase({ url: BASE, poolSize: 1 });
async function withScratchDb<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `swan_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await sql.raw(`create database ${name}`).execute(admin);
  const u = new URL(BASE);
  u.pathname = `/${name}`;
  try {
    return await fn(u.toString());
  } finally {
    await sql.raw(`drop database if exists ${name} with (force)`).execute(admin).catch(() => undefined);
  }
}

const quiet = new Logger(() => () => undefined);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const pct = (xs: number[], p: number) => sorted(xs)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const median = (xs: number[]) => {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Resolves `finished` when `hit` was called n times. */
function counter(n: number) {
  let done = 0;
  let resolve!: () => void;
  const finished = new Promise<void>((r) => (resolve = r));
  return { hit: () => { if (++done === n) resolve(); }, finished };
}

/**
 * Latency probe: `seen(key)` from the handler; `measure` publishes WARMUP unmeasured keys, then n
 * measured keys, one after another.
 */
function latencyProbe() {
  const waiters = new Map<string, (t: number) => void>();
  return {
    seen: (key: string) => waiters.get(key)?.(performance.now()),
    async measure(n: number, publish: (key: string) => Promise<unknown>): Promise<Latency> {
      await sleep(200);
      const lat: number[] = [];
      const pub: number[] = [];
      for (let i = -WARMUP; i < n; i++) {
        const key = randomUUID();
        const seen = new Promise<number>((r) => waiters.set(key, r));
        const t = performance.now();
        await publish(key);
        const published = performance.now();
        const latency = (await seen) - t;
        if (i >= 0) {
          lat.push(latency);
          pub.push(published - t);
        }
        waiters.delete(key);
      }
      return { p50: pct(lat, 50), p99: pct(lat, 99), publishP50: pct(pub, 50) };
    },
  };
}
/** Publish → handler percentiles, and the median time of the publish alone (its statement and commit). */
interface Latency { p50: number; p99: number; publishP50: number }

/**
 * Runs `fn` while n processes spin at the lowest priority (nice 19), as other work on a busy host
 * would: every process of the measured path then waits its turn for a CPU more often.
 */
async function whileCpusBusy<T>(n: number, fn: () => Promise<T>): Promise<T> {
  const spinners = Array.from({ length: n }, () => {
    const child = spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' });
    setPriority(child.pid!, 19);
    return child;
  });
  try {
    return await fn();
  } finally {
    for (const child of spinners) child.kill();
  }
}

/** Events/s of PUBLISH_N sequential publishes, after WARMUP unmeasured ones. */
async function publishRate(publish: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await publish();
  const t = performance.now();
  for (let i = 0; i < PUBLISH_N; i++) await publish();
  return PUBLISH_N / ((performance.now() - t) / 1000);
}

// ---------------------------------------------------------------- ours and the floor (same table)
const event = () => ({ eventType: 'client_erased' as const, payload: { clientId: randomUUID() } });

/** A migrated scratch database and its outbox. */
async function swanOutbox(url: string) {
  const db = createDatabase({ url, poolSize: C + 2 });
  await migrate(db, [core, outboxMigrations]);
  return { db, outbox: createOutbox({ db }) };
}

async function swanDb(url: string, n: number): Promise<Kysely<any>> {
  const { db, outbox } = await swanOutbox(url);
  for (let i = 0; i < n; i += 5000) await db.transaction().execute((trx) => outbox.publishMany(trx, Array.from({ length: Math.min(5000, n - i) }, event)));
  await sql`vacuum analyze swan_outbox`.execute(db);
  return db;
}

async function checkCompleted(db: Kysely<any>, who: string): Promise<void> {
  const { rows } = await sql<{ n: number }>`select count(*) as n from swan_outbox where status = 'completed'`.execute(db);
  if (Number(rows[0]!.n) !== DRAIN_N) throw new Error(`${who}: ${rows[0]!.n} completed of ${DRAIN_N}`);
}

async function oursDrain(url: string): Promise<number> {
  const db = await swanDb(url, DRAIN_N);
  const c = counter(DRAIN_N);
  const worker = createWorker({ db, handlers: { client_erased: async () => c.hit() }, concurrency: C, batchSize: BATCH });
  const t = performance.now();
  await worker.start();
  await c.finished;
  await worker.stop();
  const rate = DRAIN_N / ((performance.now() - t) / 1000);
  await checkCompleted(db, 'ours');
  await db.destroy();
  return rate;
}

/**
 * The floor: the same drain of the same table in bare SQL over `pg`, named statements, worker
 * bookkeeping committed asynchronously as ours does. The claim takes the locked ids as an array:
 * the textbook `where id in (select … for update skip locked)` is planned as a hash join that
 * reads the whole table (completed events included) at every claim. Two loops claim batches
 * (one claims while the other's batch is handled); each runs its batch's handlers C at a time,
 * completes the batch in one statement without waiting for it, and claims the next batch. No
 * lease checks, retries, dead letters or ordering: only what a drain needs.
 */
async function floorDrain(url: string): Promise<number> {
  const db = await swanDb(url, DRAIN_N);
  const pool = new pg.Pool({ connectionString: url, max: 4, options: '-c synchronous_commit=off' });
  const c = counter(DRAIN_N);
  const handler = async (_e: { id: number; payload: unknown }) => c.hit();
  const claim = {
    name: 'floor_claim',
    text: `update swan_outbox set status = 'processing', lease_owner = 'floor', locked_until = now() + interval '30 seconds', updated_at = now()
            where id = any(array(select id from swan_outbox where status = 'pending' and scheduled_for <= now()
                                  order by scheduled_for, id limit $1 for update skip locked))
           returning id, event_id, event_type, payload`,
  };
  const complete = {
    name: 'floor_complete',
    text: `update swan_outbox set status = 'completed', processed_at = now(), updated_at = now(), lease_owner = null, locked_until = null
            where id = any($1::bigint[])`,
  };
  const completing: Promise<unknown>[] = [];
  const loop = async () => {
    for (;;) {
      const { rows } = await pool.query<{ id: number; payload: unknown }>({ ...claim, values: [BATCH] });
      if (!rows.length) return;
      let next = 0;
      await Promise.all(Array.from({ length: C }, async () => {
        while (next < rows.length) await handler(rows[next++]!);
      }));
      completing.push(pool.query({ ...complete, values: [rows.map((r) => r.id)] }));
    }
  };
  const t = performance.now();
  await Promise.all([loop(), loop()]);
  await Promise.all(completing);
  await c.finished;
  const rate = DRAIN_N / ((performance.now() - t) / 1000);
  await pool.end();
  await checkCompleted(db, 'floor');
  await db.destroy();
  return rate;
}

async function oursLatency(url: string): Promise<Latency> {
  const { db, outbox } = await swanOutbox(url);
  const probe = latencyProbe();
  const worker = createWorker({ db, handlers: { client_erased: async (e) => probe.seen(String(e.payload.key)) }, concurrency: C, listen: pgListen(url) });
  await worker.start();
  // one autocommit statement per publish, as graphile-worker's addJob
  const r = await probe.measure(LAT_N, (key) => outbox.publish(db, { eventType: 'client_erased', payload: { clientId: randomUUID(), key } as { clientId: string } }));
  await worker.stop();
  await db.destroy();
  return r;
}

async function oursPublish(url: string): Promise<number> {
  const { db, outbox } = await swanOutbox(url);
  const rate = await publishRate(() => outbox.publish(db, event()));
  await db.destroy();
  return rate;
}

// ---------------------------------------------------------------- graphile-worker and pg-boss
const LOCAL_QUEUE: Partial<RunnerOptions> = { preset: { worker: { localQueue: { size: BATCH }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } };

async function graphileDrain(url: string): Promise<number> {
  const utils = await makeWorkerUtils({ connectionString: url, logger: quiet });
  await utils.migrate();
  for (let i = 0; i < DRAIN_N; i += 5000) await utils.addJobs(Array.from({ length: Math.min(5000, DRAIN_N - i) }, () => ({ identifier: 'noop', payload: { clientId: randomUUID() } })));
  await utils.withPgClient((client) => client.query('vacuum analyze graphile_worker._private_jobs'));
  await utils.release();
  const c = counter(DRAIN_N);
  const t = performance.now();
  const runner = await runGraphile({ connectionString: url, concurrency: C, noHandleSignals: true, logger: quiet, taskList: { noop: async () => c.hit() }, ...LOCAL_QUEUE });
  await c.finished;
  await runner.stop();
  return DRAIN_N / ((performance.now() - t) / 1000);
}

async function graphileLatency(url: string, mode: Partial<RunnerOptions>): Promise<Latency> {
  const probe = latencyProbe();
  const runner = await runGraphile({ connectionString: url, concurrency: C, noHandleSignals: true, logger: quiet, taskList: { noop: async (p) => probe.seen((p as { key: string }).key) }, ...mode });
  const r = await probe.measure(LAT_N, (key) => runner.addJob('noop', { key }));
  await runner.stop();
  return r;
}

async function graphilePublish(url: string): Promise<number> {
  const utils = await makeWorkerUtils({ connectionString: url, logger: quiet });
  await utils.migrate();
  const rate = await publishRate(() => utils.addJob('noop', { clientId: randomUUID() }));
  await utils.release();
  return rate;
}

async function pgBossPublish(url: string): Promise<number> {
  const boss = new PgBoss({ connectionString: url, supervise: false, schedule: false });
  boss.on('error', () => undefined);
  await boss.start();
  await boss.createQueue('noop');
  const rate = await publishRate(() => boss.send('noop', { clientId: randomUUID() }));
  await boss.stop({ graceful: false, wait: true });
  return rate;
}

// ---------------------------------------------------------------- rounds and report
async function rounds<T>(systems: Record<string, (url: string) => Promise<T>>): Promise<Record<string, T>[]> {
  const names = Object.keys(systems);
  const out: Record<string, T>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const r: Record<string, T> = {};
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length]!;
      r[name] = await withScratchDb(systems[name]!);
    }
    out.push(r);
    process.stderr.write(`round ${round + 1}/${ROUNDS} ${JSON.stringify(r)}\n`);
  }
  return out;
}

const f = (v: number, digits = 0) => v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
/** Median of per-round values and their range, e.g. `1.62 (1.41–1.80)`. */
const col = <T, K extends keyof T>(rs: Record<string, T>[], name: string, k?: K) => rs.map((r) => (k === undefined ? r[name] : r[name]![k]) as number);
const spread = (xs: number[], digits = 2) => `${f(median(xs), digits)} (${f(Math.min(...xs), digits)}–${f(Math.max(...xs), digits)})`;

try {
  console.log(`\noutbox bench: ${ROUNDS} rounds, systems in rotating order; drain N=${DRAIN_N.toLocaleString('en-US')} no-op events, concurrency ${C}, batch ${BATCH}; latency ${LAT_N} and publish ${PUBLISH_N} sequential events after ${WARMUP} unmeasured`);
  if (!ONLY || ONLY === 'drain') reportDrain(await rounds({ ours: oursDrain, graphile: graphileDrain, floor: floorDrain }));
  if (!ONLY || ONLY === 'latency') {
    const latency = () => rounds({
      ours: oursLatency,
      default: (url) => graphileLatency(url, {}),
      localQueue: (url) => graphileLatency(url, LOCAL_QUEUE),
    });
    reportLatency('publish → handler', await latency());
    if (BUSY_CPUS > 0) reportLatency(`publish → handler, ${BUSY_CPUS} busy CPUs`, await whileCpusBusy(BUSY_CPUS, latency));
  }
  if (!ONLY || ONLY === 'publish') reportPublish(await rounds({ ours: oursPublish, graphile: graphilePublish, pgBoss: pgBossPublish }));
} finally {
  await admin.destroy();
}

function reportDrain(drains: Record<string, number>[]): void {
  const vsGraphile = drains.map((r) => r.ours! / r.graphile!);
  const vsFloor = drains.map((r) => r.ours! / r.floor!);
  console.log('\n| drain | events/s, median (range) | ours ÷ this, median of rounds (range) |');
  console.log('|---|---:|---:|');
  console.log(`| @swan/outbox | ${spread(col(drains, 'ours'), 0)} | 1.00 |`);
  console.log(`| graphile-worker 0.17 \`localQueue\` 500 | ${spread(col(drains, 'graphile'), 0)} | ${spread(vsGraphile)} |`);
  console.log(`| floor: bare SQL over \`pg\` | ${spread(col(drains, 'floor'), 0)} | ${spread(vsFloor)} |`);
  console.log(`targets: drain ≥ 1.5× graphile-worker localQueue (median ${median(vsGraphile).toFixed(2)}×), ≥ 0.8× the floor (median ${median(vsFloor).toFixed(2)}×)`);
}

function reportLatency(title: string, lats: Record<string, Latency>[]): void {
  const ratios = (k: keyof Latency, of: (r: Record<string, Latency>) => number) => spread(lats.map((r) => r.ours![k] / of(r)));
  // graphile-worker's better mode for a measure: the one with the lower median over the rounds
  const better = (k: keyof Latency) => (median(col(lats, 'default', k)) <= median(col(lats, 'localQueue', k)) ? 'default' : 'localQueue');
  const vsBetter = (k: keyof Latency) => {
    const mode = better(k);
    return `${ratios(k, (r) => r[mode]![k])} ÷ ${mode}`;
  };
  const vsFaster = (k: keyof Latency) => ratios(k, (r) => Math.min(r.default![k], r.localQueue![k]));
  console.log(`\n| ${title} | p50 ms, median (range) | p99 ms, median (range) | publish alone p50 ms |`);
  console.log('|---|---:|---:|---:|');
  for (const [label, name] of [['@swan/outbox', 'ours'], ['graphile-worker 0.17 default', 'default'], ['graphile-worker 0.17 `localQueue` 500', 'localQueue']] as const) {
    console.log(`| ${label} | ${spread(col(lats, name, 'p50'))} | ${spread(col(lats, name, 'p99'))} | ${spread(col(lats, name, 'publishP50'))} |`);
  }
  console.log(`| ours ÷ graphile-worker's better mode | ${vsBetter('p50')} | ${vsBetter('p99')} | ${vsBetter('publishP50')} |`);
  console.log(`| ours ÷ the faster mode of each round | ${vsFaster('p50')} | ${vsFaster('p99')} | ${vsFaster('publishP50')} |`);
  console.log('targets: latency p50 and p99 ≤ 0.8× graphile-worker\'s better mode');
}

function reportPublish(rates: Record<string, number>[]): void {
  console.log('\n| publish, one transaction per event | events/s, median (range) | ours ÷ this, median of rounds (range) |');
  console.log('|---|---:|---:|');
  console.log(`| @swan/outbox \`publish\` | ${spread(col(rates, 'ours'), 0)} | 1.00 |`);
  console.log(`| graphile-worker 0.17 \`addJob\` | ${spread(col(rates, 'graphile'), 0)} | ${spread(rates.map((r) => r.ours! / r.graphile!))} |`);
  console.log(`| pg-boss 10 \`send\` | ${spread(col(rates, 'pgBoss'), 0)} | ${spread(rates.map((r) => r.ours! / r.pgBoss!))} |`);
}
