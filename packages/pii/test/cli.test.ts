import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, migrate, migrations as core } from '@swan/core';
import { runCli, type CliIo } from '@swan/cli';
import { LocalKeyProvider, migrations } from '@swan/pii';
import { admin, clientBody, makeService, masterKey } from './fixtures.js';

function io(env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIo = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env };
  return { cli, out: () => out.join(''), err: () => err.join('') };
}

describe('swan keys rotate / swan export (PGlite data directory)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swan-pii-cli-'));
  const k1 = masterKey('old');
  const k2 = masterKey('new');
  const indexKey = randomBytes(32);
  const ids: string[] = [];
  const bodies = Array.from({ length: 5 }, (_, i) => clientBody(i));
  beforeAll(async () => {
    const db = createDatabase({ dataDir: dir });
    await migrate(db, [core, migrations]);
    const svc = makeService(db, LocalKeyProvider.fromEnv(k1), indexKey);
    for (const b of bodies) ids.push((await svc.createClient(admin, b)).clientId);
    await db.destroy();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rotates with a progress bar and reports the count left under old keys', async () => {
    const a = io({ SWAN_MASTER_KEYS: `${k1},${k2}` });
    expect(await runCli(['keys', 'rotate', '--data-dir', dir, '--batch-size', '2'], a.cli)).toBe(0);
    expect(JSON.parse(a.out())).toEqual({ rewrapped: 5, failed: 0, remaining: 0, currentKeyId: 'new' });
    expect(a.err()).toContain('[##############################] 5/5 data keys re-wrapped');
    // a key only the retired master can open is reported, and the exit code says so
    const b = io({ SWAN_MASTER_KEYS: masterKey('newer') });
    expect(await runCli(['keys', 'rotate', '--data-dir', dir], b.cli)).toBe(1);
    expect(JSON.parse(b.out())).toMatchObject({ rewrapped: 0, failed: 5, remaining: 5 });
    expect(await runCli(['keys', 'rotate', '--data-dir', dir], io({}).cli)).toBe(2);
  });

  it('exports one client as JSON, decrypted, to a file', async () => {
    const out = join(dir, 'export.json');
    const a = io({ SWAN_MASTER_KEYS: k2, SWAN_INDEX_KEY: indexKey.toString('base64') });
    expect(await runCli(['export', ids[2]!, '--data-dir', dir, '--out', out], a.cli)).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc).toMatchObject({ clientId: ids[2], pii: { email: bodies[2]!.pii.email, full_name: bodies[2]!.pii.full_name } });
    expect(doc.accessLog.map((r: { action: string }) => r.action)).toEqual(['CLIENT_CREATED', 'PII_EXPORT']);
    expect(await runCli(['export', 'nope', '--data-dir', dir], io({ SWAN_MASTER_KEYS: k2, SWAN_INDEX_KEY: indexKey.toString('base64') }).cli)).toBe(2);
  });
});
