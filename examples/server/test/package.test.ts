import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('..', import.meta.url));

function sources(path: string): string[] {
  return readdirSync(path, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(path, e.name)) : e.name.endsWith('.ts') ? [join(path, e.name)] : [],
  );
}

describe('@swan/example-server package', () => {
  it('declares every package its sources import (so the built server resolves them)', () => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const imported = new Set<string>();
    for (const file of sources(join(dir, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:^|\s)(?:import|export)\s[^;]*?from\s+'([^'.][^']*)'|import\('([^'.][^']*)'\)/gm)) {
        const spec = (m[1] ?? m[2])!;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!spec.startsWith('node:') && !builtinModules.includes(name)) imported.add(name);
      }
    }
    expect(imported).toContain('@swan/core');
    expect(imported).toContain('jose');
    expect([...imported].filter((name) => !(name in pkg.dependencies)).sort()).toEqual([]);
    for (const name of imported) if (name.startsWith('@swan/')) expect(pkg.dependencies[name]).toBe('workspace:^');
  });
});
