// Stripe webhook deliveries through @swan/express against the local fake Stripe API.
//  1. new events at a steady 200/s (open loop): latency p50/p99/max (target p99 < 100 ms);
//  2. duplicate deliveries under autocannon vs a bare Express route that only verifies the
//     signature (target ≥ 0.8×): answered from the in-process cache of processed ids, and by a
//     second instance without that cache (a duplicate landing on another app instance).
// Run: cd bench && npx tsx billing/run.ts   (DATABASE_URL for PostgreSQL, else PGlite)
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { events, newSubscription, sign, startFakeStripe } from '../../packages/billing/test/fake-stripe.js';

const RATE = Number(process.env.BENCH_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const DUP_SECONDS = Number(process.env.BENCH_DUP_SECONDS ?? 5);
// the same open-loop stream, unmeasured, first: JIT, the pool's connections and their plan caches
// warm up as they would in a server that has been running (a cold start is not a steady 200/s)
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);

// the fake Stripe API runs here, apart from the server under test (Stripe is remote, after all)
const fake = await startFakeStripe();
const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./server.ts', import.meta.url))], {
  stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BENCH_CLIENTS: String(RATE * (SECONDS + WARMUP_SECONDS)), STRIPE_API_BASE: fake.url },
});
process.on('exit', () => child.kill('SIGTERM'));
// the server answers each request on stdin with one JSON line on stdout
const waiting: Array<{ resolve: (v: any) => void; reject: (e: Error) => void }> = [];
createInterface({ input: child.stdout! }).on('line', (line) => waiting.shift()?.resolve(JSON.parse(line)));
child.once('exit', (code) => { for (const w of waiting.splice(0)) w.reject(new Error(`server exited with ${code}`)); });
const nextLine = () => new Promise<any>((resolve, reject) => { waiting.push({ resolve, reject }); });
const ready: { engine: string; oursPort: number; coldPort: number; barePort: number; clientIds: string[] } = await nextLine();
const ours = `http://127.0.0.1:${ready.oursPort}/webhooks/stripe`;
const cold = `http://127.0.0.1:${ready.coldPort}/webhooks/stripe`;
const bare = `http://127.0.0.1:${ready.barePort}/webhooks/stripe`;

async function post(url: string, body: string): Promise<number> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': sign(body) } });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  return res.status;
}

// 1. steady stream of new events: each client's checkout.session.completed (a new row, with the
// subscription re-fetched from the fake Stripe API)
const now = Math.floor(Date.now() / 1000);
const bodies = ready.clientIds.map((clientId, i) => {
  const sub = newSubscription((['tier_1', 'tier_2', 'tier_3'] as const)[i % 3]!, now - 3600, i % 2 ? 7 : 0);
  fake.subscriptions.set(sub.id, sub);
  return JSON.stringify(events.checkoutCompleted(sub, clientId, fake.checkout(sub, clientId), now), null, 2);
});
const stats = async (): Promise<{ outbox: number; cpuMs: number }> => { child.stdin!.write('stats\n'); return nextLine(); };
/** Posts `list` open-loop at RATE per second; resolves with each delivery's latency in ms. */
const stream = (list: string[]): Promise<number[]> => {
  const t0 = performance.now();
  return Promise.all(list.map((body, i) => new Promise<number>((resolve, reject) => {
    const at = t0 + (i * 1000) / RATE;
    setTimeout(() => {
      const t = performance.now();
      post(ours, body).then(() => resolve(performance.now() - t), reject);
    }, Math.max(0, at - performance.now()));
  })));
};
const warm = RATE * WARMUP_SECONDS;
await stream(bodies.slice(0, warm));
const cpuBefore = (await stats()).cpuMs;
const genBefore = process.cpuUsage(); // this process: load generator and fake Stripe API
const started = performance.now();
const latencies = await stream(bodies.slice(warm));
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!;

// 2. duplicate deliveries (already processed) vs bare signature verification
const dup = bodies[0]!;
const cpuPerRequest = new Map<string, number>();
async function cannon(url: string): Promise<number> {
  const before = (await stats()).cpuMs;
  const result = await autocannon({
    url, method: 'POST', connections: 32, duration: DUP_SECONDS, body: dup,
    headers: { 'content-type': 'application/json', 'stripe-signature': sign(dup) },
  });
  if (result.non2xx) throw new Error(`${result.non2xx} non-2xx answers from ${url}`);
  cpuPerRequest.set(url, ((await stats()).cpuMs - before) / result.requests.total);
  return result.requests.average;
}
const { outbox, cpuMs: cpuAfter } = await stats();
const cpuPerEvent = (cpuAfter - cpuBefore) / latencies.length;
const gen = process.cpuUsage(genBefore);
const genPerEvent = (gen.user + gen.system) / 1000 / latencies.length;
await cannon(bare); // warm-up
await cannon(cold);
const bareRps = await cannon(bare);
const oursRps = await cannon(ours);
const coldRps = await cannon(cold);
const bareRps2 = await cannon(bare); // again, to see the drift of the shared machine
child.kill('SIGTERM');
await fake.close();

const f = (n: number) => n.toFixed(1);
console.log(`\nbilling webhooks (${ready.engine}, Node ${process.version})`);
console.log(`| scenario | result | target |`);
console.log(`|---|---|---|`);
console.log(`| new events at ${RATE}/s for ${SECONDS} s after ${WARMUP_SECONDS} s of warm-up (${latencies.length} deliveries, achieved ${f(latencies.length / elapsed)}/s) | p50 ${f(q(0.5))} ms, p99 ${f(q(0.99))} ms, max ${f(latencies.at(-1)!)} ms | p99 < 100 ms ${q(0.99) < 100 ? '✓' : '✗'} |`);
const ms = (n: number | undefined) => `${(n ?? NaN).toFixed(3)} ms`;
console.log(`| server CPU per new event / per duplicate (cache hit, no cache) / per bare request | ${ms(cpuPerEvent)} / ${ms(cpuPerRequest.get(ours))}, ${ms(cpuPerRequest.get(cold))} / ${ms(cpuPerRequest.get(bare))} | |`);
console.log(`| load generator + fake Stripe API CPU per new event (this process) | ${ms(genPerEvent)} | |`);
console.log(`| outbox events published by all deliveries, warm-up included | ${outbox} | one subscription_activated each |`);
const bareAvg = (bareRps + bareRps2) / 2;
const ratio = (n: number) => `${(n / bareAvg).toFixed(2)}× ${n / bareAvg >= 0.8 ? '✓' : '✗'}`;
console.log(`| bare Express route, signature check only (before / after) | ${f(bareRps)} / ${f(bareRps2)} req/s | |`);
console.log(`| duplicates, @swan/billing via @swan/express, processed-id cache hit | ${f(oursRps)} req/s = ${ratio(oursRps)} | ≥ 0.8× |`);
console.log(`| duplicates, second instance without the cache (one read of stripe_events) | ${f(coldRps)} req/s = ${ratio(coldRps)} | ≥ 0.8× |`);
