import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
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
  const latest = Math.max(...sources.map((d) => newest(join(root, d))));
  if (outputs.every((f) => existsSync(join(root, f)) && statSync(join(root, f)).mtimeMs > latest)) return;
  execFileSync(process.execPath, ['scripts/gen-migrations.mjs'], { cwd: root, stdio: 'inherit' });
  execFileSync('pnpm', [...filters.flatMap((f) => ['--filter', `${f}...`]), 'build'], { cwd: root, stdio: 'inherit' });
}
