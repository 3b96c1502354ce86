import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, root } from './build.js';

const main = join(root, 'examples/server/dist/main.js');

/** The server and the packages it uses, built when dist/main.js is older than any source. */
const ensureServerBuilt = () => ensureBuilt(['examples/server/dist/main.js'], ['packages', 'examples/server/src', 'migrations'], ['@swan/example-server']);

describe('the built example server (node examples/server/dist/main.js)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'swan-built-'));
  beforeAll(ensureServerBuilt, 300_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts on embedded PGlite, says so, serves /healthz and exits 0 on SIGTERM', async () => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', PORT: '0', DATA_DIR: dataDir };
    const child = spawn(process.execPath, [main], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Array<Record<string, unknown>> = [];
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
      let buffer = '';
      child.stdout.on('data', (chunk) => {
        buffer += String(chunk);
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const entry = JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>;
          buffer = buffer.slice(nl + 1);
          lines.push(entry);
          if (entry.msg === 'swan example server listening') resolve(entry);
        }
      });
      void exited.then((code) => reject(new Error(`server exited with ${code} before listening: ${stderr}`)));
    });
    try {
      const started = await listening;
      expect(started).toMatchObject({ framework: 'express', database: { engine: 'pglite', dataDir }, rateLimitStore: expect.stringMatching(/^memory/), workers: 'in-process' });
      expect(lines.some((l) => l.level === 'warn' && /AUTH_JWT_SECRET is not set/.test(String(l.msg)))).toBe(true);
      const res = await fetch(`${String(started.url)}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ success: true, status: 'ok', database: 'pglite' });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(lines.map((l) => l.msg)).toContain('stopped');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
