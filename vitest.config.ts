import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const packages = readdirSync(`${root}packages`).filter((p) => existsSync(`${root}packages/${p}/test`));

export default defineConfig({
  resolve: {
    // Tests run against sources: `@swan/x` → packages/x/src/index.ts, `@swan/x/y` → packages/x/src/y.ts
    alias: [
      { find: /^@swan\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
      { find: /^@swan\/([a-z-]+)\/([a-z-]+)$/, replacement: `${root}packages/$1/src/$2.ts` },
    ],
  },
  test: {
    globalSetup: [`${root}packages/test-utils/src/global-setup.ts`],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      ...packages.map((name) => ({ extends: true as const, test: { name, include: [`packages/${name}/test/**/*.test.ts`] } })),
      { extends: true as const, test: { name: 'example-server', include: ['examples/server/test/**/*.test.ts'] } },
    ],
  },
});
