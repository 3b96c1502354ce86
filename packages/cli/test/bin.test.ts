import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(root, 'packages/cli/src/cli.ts');
// tsx by path, so the bin also runs from a directory outside the workspace
const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
const pkg = JSON.parse(readFileSync(join(root, 'packages/cli/package.json'), 'utf8')) as { version: string };

/** The bin's source through tsx (resolving @swan/* to sources), so no build is needed; stdout and stderr are pipes. */
function run(args: string[], cwd = root, env: Record<string, string> = {}) {
  return promisify(execFile)(process.execPath, ['--import', tsx, bin, ...args], { cwd, env: { ...process.env, DATABASE_URL: '', ...env } });
}

describe('the swan bin', () => {
  it('runs as a process: version, JSON on stdout, progress as JSON lines on a pipe, exit codes', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'swan-cli-bin-'));
    try {
      expect((await run(['--version'])).stdout).toBe(`${pkg.version}\n`);

      // no database: exit 2 with the reason, and nothing created in the current directory
      const refused = await run(['migrate'], cwd).then(() => undefined, (e: { code: number; stderr: string }) => e);
      expect(refused?.code).toBe(2);
      expect(refused?.stderr).toMatch(/No database: give --database-url URL/);
      expect(readdirSync(cwd)).toEqual([]);

      const migrated = await run(['migrate', '--packages', 'core', '--embedded', 'db'], cwd);
      expect(JSON.parse(migrated.stdout).applied.length).toBeGreaterThan(0);
      expect(migrated.stderr).not.toContain('\r');
      const steps = migrated.stderr.trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(steps.at(-1)).toMatchObject({ event: 'progress', command: 'migrate' });
      expect(steps.at(-1).done).toBe(steps.at(-1).total);

      const verified = await run(['audit', 'verify', '--embedded', join(cwd, 'db')]);
      expect(JSON.parse(verified.stdout)).toEqual({ valid: true, entries: 0 });
      await expect(run(['nope'])).rejects.toMatchObject({ code: 2 });
      await expect(run(['outbox'])).rejects.toMatchObject({ code: 2, stdout: expect.stringContaining('outbox stats') });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 180_000);
});
