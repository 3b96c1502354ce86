import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Newest modification time under `dir` (sources a build depends on; dist, test and node_modules aside). */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'dist', 'test'].includes(entry.name)) continue;
    const path = join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return max;
}

/**
 * Builds the workspace packages matched by `filters` (pnpm `--filter`, with their dependencies)
 * unless every file of `outputs` is newer than everything under `sources` (paths from the root).
 * CI builds before testing, so there this only checks; `pnpm test` on a fresh clone builds once.
 */
export function ensureBuilt(outputs: string[], sources: string[], filters: string[]): void {
  const fresh = () => {
    const latest = Math.max(...sources.map((d) => newest(join(root, d))));
    return outputs.every((f) => existsSync(join(root, f)) && statSync(join(root, f)).mtimeMs > latest);
  };
  if (fresh()) return;
  // test files run in parallel: one builds, the others wait for it (a second tsup run would clean
  // the dist folders the first is reading)
  const release = acquireBuildLock();
  try {
    if (fresh()) return;
    execFileSync(process.execPath, ['scripts/gen-migrations.mjs'], { cwd: root, stdio: 'inherit' });
    execFileSync('pnpm', [...filters.flatMap((f) => ['--filter', `${f}...`]), 'build'], { cwd: root, stdio: 'inherit' });
  } finally {
    release();
  }
}

/** A directory lock under node_modules (mkdir is atomic); a lock older than 10 minutes is stale. */
function acquireBuildLock(): () => void {
  const lock = join(root, 'node_modules', '.swan-test-build.lock');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      mkdirSync(lock);
      return () => rmSync(lock, { recursive: true, force: true });
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 600_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      Atomics.wait(pause, 0, 0, 250);
    }
  }
}
