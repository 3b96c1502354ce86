// Child process for bench/schema/run.ts: serves one POST route through @swan/express.
//   node server.mjs validated → guards enforceSchemaVersion('3') + validateMasterPromptBody
//   node server.mjs bare      → the same route without validation
// Prints the port on stdout.
import { createServer } from 'node:http';
import express from 'express';
import { mountSwan } from '@swan/express';
import { ok } from '@swan/core';
import { enforceSchemaVersion, validateMasterPromptBody } from '@swan/schema';

const mode = process.argv[2];
// Time spent in the validation guards, measured inside this process. They are synchronous, on
// the main thread, so wall time of a call is its cost unless the OS preempted it: the median of
// the samples drops those. (process.cpuUsage() would count the whole process, V8's background
// GC and compiler threads included, which on 2 cores inflates a 10 µs window several-fold.)
// One call in SAMPLE is timed, so the clock reads add nothing measurable to the route.
const SAMPLE = 8;
const KEEP = 8192;
const timings = []; // per guard: recent samples (ns)
const timed = (guard) => {
  const samples = [];
  timings.push(samples);
  let calls = 0;
  return (req, ctx) => {
    if (++calls % SAMPLE !== 0) return guard(req, ctx);
    const start = process.hrtime.bigint();
    try { return guard(req, ctx); } finally {
      const ns = Number(process.hrtime.bigint() - start);
      if (samples.length < KEEP) samples.push(ns); else samples[(calls / SAMPLE) % KEEP] = ns;
    }
  };
};
const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : 0);
const route = {
  method: 'POST',
  path: '/prompt',
  access: 'public',
  bodyLimit: 512 * 1024,
  guards: mode === 'validated' ? [timed(enforceSchemaVersion('3')), timed(validateMasterPromptBody)] : [],
  handler: async () => ok({ stored: true }, 201),
};
const app = express();
// CPU time of this process (µs), read around each load run: per-request CPU is immune to other
// processes competing for the machine, unlike requests/s.
app.get('/cpu', (_req, res) => {
  const u = process.cpuUsage();
  // median µs per request spent in the guards: the sum of each guard's median
  res.json({ micros: u.user + u.system, guardMedianMicros: timings.reduce((sum, t) => sum + median(t), 0) / 1000, guardSamples: timings.map((t) => t.length) });
});
mountSwan(app, [route], { actor: () => null });
const server = createServer(app).listen(0, '127.0.0.1', () => console.log(server.address().port));
