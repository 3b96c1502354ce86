import { defineConfig, type Options } from 'tsup';

/** The one tsup configuration every published package re-uses: ESM + CJS + .d.ts for Node 20. */
export function swanTsup(overrides: Partial<Options> = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: false,
    clean: true,
    target: 'node20',
    splitting: false,
    ...overrides,
  });
}
