// Where an Express request's CPU goes: per variant, server and Redis CPU µs per request under autocannon.
// Run: cd bench && npx tsx ratelimit/profile.ts [variant…]   (BENCH_SECONDS, default 4)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const variants = process.argv.slice(2).length ? process.argv.slice(2) : ['unlimited', 'swan', 'erl'];
const ticks = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10_000; }; // µs (100 Hz)
const redis = new Redis(REDIS_URL);
const redisCpu = async () => { const info = await redis.info('cpu'); const n = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)![1]); return (n('used_cpu_sys') + n('used_cpu_user')) * 1e6; };

for (const variant of variants) {
  const child = spawn(process.execPath, ['--import', 'tsx', ...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir', '/tmp/rlp'] : []), fileURLToPath(new URL('./server.ts', import.meta.url)), variant], {
    env: { ...process.env, REDIS_URL, BENCH_PREFIX: `bench:prof:${variant}:` }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve) => child.stdout!.on('data', (c: Buffer) => { const m = /listening (\d+)/.exec(c.toString()); if (m) resolve(Number(m[1])); }));
  const url = `http://127.0.0.1:${port}/api/ping`;
  await autocannon({ url, connections: 64, duration: 1 });
  const [s0, r0] = [ticks(child.pid!), await redisCpu()];
  const r = await autocannon({ url, connections: 64, duration: SECONDS });
  const [s1, r1] = [ticks(child.pid!), await redisCpu()];
  const n = r.requests.total;
  console.log(`${variant.padEnd(10)} ${Math.round(r.requests.average).toString().padStart(6)} req/s  server ${((s1 - s0) / n).toFixed(1)} µs/req  redis ${((r1 - r0) / n).toFixed(1)} µs/req  non2xx ${r.non2xx}`);
  child.kill('SIGINT');
  await new Promise((res) => child.once('exit', res));
}
await redis.quit();
