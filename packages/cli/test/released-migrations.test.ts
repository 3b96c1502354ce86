import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checksumOf } from '@swan/core';
import { migrationRegistry } from '../src/registry.js';

// Checksums of every migration as released (migrations/released.json, per version). A database
// migrated by a release records them; the migrator refuses to start when one differs, so a
// released migration is never edited: a change is a new numbered file.
const released = JSON.parse(readFileSync(new URL('../../../migrations/released.json', import.meta.url), 'utf8')) as Record<string, Record<string, string>>;

describe('released migrations', () => {
  it.each(Object.keys(released))('every migration of %s ships with the text it was released with', async (version) => {
    const shipped = new Map<string, string>();
    for (const [pkg, load] of Object.entries(migrationRegistry)) {
      for (const m of (await load()).migrations) shipped.set(`${pkg}/${m.name}`, checksumOf(m.sql));
    }
    const changed = Object.entries(released[version]!).filter(([name, sum]) => shipped.get(name) !== sum).map(([name]) => name);
    expect(changed).toEqual([]);
  });
});
