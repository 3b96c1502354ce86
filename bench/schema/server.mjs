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
// CPU time spent in the validation guards, measured inside this process (they are synchronous;
// CPU time, unlike wall time, does not count the moments another process had the core).
let guardMicros = 0;
let guardCalls = 0;
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
const timed = (guard) => (req, ctx) => {
  const start = cpu();
  try { return guard(req, ctx); } finally { guardMicros += cpu() - start; guardCalls++; }
};
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
app.get('/cpu', (_req, res) => { const u = process.cpuUsage(); res.json({ micros: u.user + u.system, guardMicros, guardCalls }); });
mountSwan(app, [route], { actor: () => null });
const server = createServer(app).listen(0, '127.0.0.1', () => console.log(server.address().port));
