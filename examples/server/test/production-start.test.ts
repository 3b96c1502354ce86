/**
 * Production start (issue 24, "Production guards"): the built server, spawned with
 * NODE_ENV=production, refuses to start on development keys, a missing or public JWT secret,
 * missing Payment Links while Stripe is configured, or a missing PUBLIC_URL: it names each
 * variable and exits non-zero. With everything set (Stripe test-mode keys and links are
 * legitimate) it starts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, root } from './build.js';
import { DEVELOPMENT_JWT_SECRET } from '../src/config.js';

const main = join(root, 'examples/server/dist/main.js');
const key = Buffer.alloc(32, 7).toString('base64');

/** Runs the built server until it exits or says it listens; its JSON log lines and exit code. */
function start(env: Record<string, string>): Promise<{ code: number | null; lines: Array<Record<string, any>> }> {
  const child = spawn(process.execPath, [main], { cwd: root, env: { PATH: process.env.PATH ?? '', PORT: '0', NODE_ENV: 'production', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, any>> = [];
  let buffer = '';
  return new Promise((resolve) => {
    child.stdout.on('data', (chunk) => {
      buffer += String(chunk);
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const entry = JSON.parse(buffer.slice(0, nl)) as Record<string, any>;
        buffer = buffer.slice(nl + 1);
        lines.push(entry);
        // answered once, then stopped (the signal handlers are installed once createServer returns)
        if (entry.msg === 'swan example server listening') void fetch(`${String(entry.url)}/healthz`).finally(() => child.kill('SIGTERM'));
      }
    });
    child.once('exit', (code) => resolve({ code, lines }));
    setTimeout(() => child.kill('SIGKILL'), 60_000).unref();
  });
}

describe('NODE_ENV=production start guards (built server)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'swan-prod-'));
  beforeAll(() => ensureBuilt(['examples/server/dist/main.js'], ['packages', 'examples/server/src', 'migrations'], ['@swan/example-server']), 300_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const refusal = (lines: Array<Record<string, any>>) => lines.find((l) => l.msg === 'startup failed')?.error as { code: string; message: string } | undefined;

  it('with nothing set: names the keys, the JWT secret and PUBLIC_URL, exits 1', async () => {
    const { code, lines } = await start({ DATA_DIR: dataDir });
    expect(code).toBe(1);
    const error = refusal(lines);
    expect(error?.code).toBe('CONFIG_INVALID');
    for (const variable of ['SWAN_MASTER_KEYS', 'SWAN_INDEX_KEY', 'AUTH_JWT_SECRET', 'PUBLIC_URL']) expect(error?.message).toContain(variable);
    expect(lines.map((l) => l.msg)).not.toContain('swan example server listening');
  });

  it('the public development secret, and Stripe without its Payment Links: each variable named, exits 1', async () => {
    const { code, lines } = await start({
      DATA_DIR: dataDir, SWAN_MASTER_KEYS: `k1:${key}`, SWAN_INDEX_KEY: key, PUBLIC_URL: 'https://swan.example',
      AUTH_JWT_SECRET: DEVELOPMENT_JWT_SECRET, STRIPE_SECRET_KEY: 'sk_test_staging', STRIPE_WEBHOOK_SECRET: 'whsec_staging',
      STRIPE_PAYMENT_LINK_TIER_1: 'https://buy.stripe.com/test_1', STRIPE_PRICE_TIER_1: 'price_1',
    });
    expect(code).toBe(1);
    const error = refusal(lines)!;
    expect(error.message).toContain('AUTH_JWT_SECRET is the public development secret');
    for (const variable of ['STRIPE_PAYMENT_LINK_TIER_2', 'STRIPE_PRICE_TIER_2', 'STRIPE_PAYMENT_LINK_TIER_3', 'STRIPE_PRICE_TIER_3']) expect(error.message).toContain(variable);
    expect(error.message).not.toMatch(/SWAN_MASTER_KEYS|SWAN_INDEX_KEY|PUBLIC_URL|TIER_1/);
    // the values are never echoed
    expect(JSON.stringify(lines)).not.toContain(key);
  });

  it('starts with every variable set (Stripe test-mode keys and links included)', async () => {
    const links = Object.fromEntries([1, 2, 3].flatMap((n) => [[`STRIPE_PAYMENT_LINK_TIER_${n}`, `https://buy.stripe.com/test_${n}`], [`STRIPE_PRICE_TIER_${n}`, `price_${n}`]]));
    const { code, lines } = await start({
      DATA_DIR: dataDir, SWAN_MASTER_KEYS: `k1:${key}`, SWAN_INDEX_KEY: key, PUBLIC_URL: 'https://swan.example',
      AUTH_JWT_SECRET: 'a-long-random-production-secret-0123456789', STRIPE_SECRET_KEY: 'sk_test_staging', STRIPE_WEBHOOK_SECRET: 'whsec_staging', ...links,
    });
    expect(lines.map((l) => l.msg)).toContain('swan example server listening');
    expect(code).toBe(0);
    expect(lines.some((l) => /DEVELOPMENT KEYS/.test(String(l.msg)))).toBe(false);
  });
});
