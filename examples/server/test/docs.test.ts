import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '@swan/core';
import { ensureBuilt } from './build.js';
import { bootServer, type TestServer } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

/**
 * Routes of the contract that the example server does not mount yet. When one is mounted the
 * route test below fails until it is removed from here.
 */
const ROUTES_AHEAD_OF_SERVER: string[] = [
];

/** `{ code: status }` of the Markdown table rows `` | `CODE`, `CODE` | 403 … | ``. */
function codeTable(markdown: string): Record<string, number> {
  const table: Record<string, number> = {};
  for (const row of markdown.matchAll(/^\| (`[A-Z_]+`(?:, `[A-Z_]+`)*) \| (\d{3})\b/gm)) {
    for (const code of row[1]!.matchAll(/`([A-Z_]+)`/g)) table[code[1]!] = Number(row[2]);
  }
  return table;
}

/** `METHOD /path` of every route named in the Routes section of docs/http-api.md. */
function documentedRoutes(): string[] {
  const page = read('docs/http-api.md');
  const section = page.slice(page.indexOf('\n## Routes'), page.indexOf('\n## Example server'));
  const routes = [...section.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`?\s]*)/g)].map((m) => `${m[1]} ${m[2]}`);
  return [...new Set(routes)];
}

describe('docs stay true to the code', () => {
  it('docs/errors.md lists the codes and statuses of ERROR_STATUS, and of http-api.md', () => {
    const table = /<!-- error-table:start -->([\s\S]*?)<!-- error-table:end -->/.exec(read('docs/errors.md'))?.[1] ?? '';
    const documented = codeTable(table);
    const contract = codeTable(read('docs/http-api.md'));
    expect(documented).toEqual(contract);
    expect(documented).toEqual(ERROR_STATUS);
  });

  it('the README keeps the two commands, and .ci/run ends with the README test command', () => {
    const readme = read('README.md');
    expect(readme).toContain('npm install -g pnpm@10.34.8 && pnpm install && pnpm start');
    expect(readme).toContain('npm install -g pnpm@10.34.8 && pnpm install && pnpm test');
    const ci = read('.ci/run').trimEnd().split('\n');
    expect(ci[ci.length - 1]).toBe('pnpm test');
    expect(ci.some((line) => /^[^#]*\bpnpm docs:check\b/.test(line))).toBe(true);
  });

  it('docs/benchmarks.md stays a page of results: at most 150 lines, a method, targets and a command per package', () => {
    const page = read('docs/benchmarks.md');
    expect(page.trimEnd().split('\n').length).toBeLessThanOrEqual(150);
    const sections = page.split(/^## /m).slice(1);
    expect(sections.map((s) => s.split('\n')[0])).toEqual(expect.arrayContaining(['pii', 'consent', 'schema', 'outbox', 'billing', 'ratelimit']));
    for (const section of sections) {
      expect(section).toContain('**Method.**');
      expect(section).toContain('**Targets.**');
      expect(section).toMatch(/`pnpm bench [a-z]+`/);
      expect(section).toMatch(/^\|.*\|$/m);
    }
  });

  it('no page sends readers to an API.md the repository does not have', () => {
    const pages = [
      'README.md',
      ...readdirSync(`${root}docs`).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
      ...readdirSync(`${root}packages`).filter((p) => existsSync(`${root}packages/${p}/README.md`)).map((p) => `packages/${p}/README.md`),
    ];
    expect(pages.length).toBeGreaterThan(20);
    expect(pages.filter((p) => /(?<![-\w])API\.md/.test(read(p)))).toEqual([]);
  });
});

describe('docs/http-api.md and the example server', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await bootServer({}, [], []);
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('every documented route is mounted (answered by its route, not "Route not found"), except the listed ones', async () => {
    const routes = documentedRoutes();
    expect(routes.length).toBeGreaterThan(35);
    const unmounted: string[] = [];
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      const url = server.url + path.replace(/:[A-Za-z]+/g, '00000000-0000-4000-8000-000000000001');
      // no token and no body: a mounted route answers 401, 400, 403 or its page; never this 404
      const res = await fetch(url, { method });
      const body = (res.headers.get('content-type') ?? '').includes('json') ? ((await res.json()) as { error?: { message?: string } }) : (await res.text(), {});
      if (res.status === 404 && body.error?.message === 'Route not found') unmounted.push(route);
    }
    expect(unmounted).toEqual(ROUTES_AHEAD_OF_SERVER);
  });
});

describe('scripts/check-doc-snippets.mjs', () => {
  it('type-checks ts blocks against the built packages, reports file:line of a failure and skips marked fragments', () => {
    ensureBuilt(['packages/core/dist/index.d.ts'], ['packages/core/src'], ['@swan/core']);
    const dir = mkdtempSync(join(tmpdir(), 'swan-doc-fixture-'));
    try {
      const fixture = join(dir, 'fixture.md');
      writeFileSync(fixture, [
        '# Fixture', // 1
        '',
        '```ts',
        "import { ERROR_STATUS, httpStatusFor } from '@swan/core';",
        'const status: number = httpStatusFor("NOT_FOUND") + ERROR_STATUS.CONFLICT;', // 5
        '```',
        '',
        '```ts',
        "import { errors } from '@swan/core';",
        'errors.notFound(404);', // 10: TS2345, a number where a string belongs
        '```',
        '',
        '<!-- fragment: a shape, not a program -->',
        '```ts',
        'this is not TypeScript', // 15
        '```',
        '',
        '```ts fragment',
        'neither is this',
        '```',
        '',
      ].join('\n'));
      const run = spawnSync(process.execPath, [join(root, 'scripts/check-doc-snippets.mjs'), fixture], { cwd: root, encoding: 'utf8' });
      expect(run.status).toBe(1);
      const lines = run.stderr.trim().split('\n');
      expect(lines[0]).toMatch(/^.*fixture\.md:10: TS2345: /);
      expect(lines.at(-1)).toBe('doc snippets: 2 checked, 2 fragments skipped, 1 errors');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
