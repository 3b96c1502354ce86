import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '@swan/core';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

describe('docs stay true to the code', () => {
  it('docs/errors.md lists exactly the codes and statuses of ERROR_STATUS', () => {
    const table = /<!-- error-table:start -->([\s\S]*?)<!-- error-table:end -->/.exec(read('docs/errors.md'))?.[1] ?? '';
    const documented = Object.fromEntries([...table.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]));
    expect(documented).toEqual(ERROR_STATUS);
  });

  it('the README keeps the two commands, and .ci/run ends with the README test command', () => {
    const readme = read('README.md');
    expect(readme).toContain('npm install -g pnpm@10.34.8 && pnpm install && pnpm start');
    expect(readme).toContain('npm install -g pnpm@10.34.8 && pnpm install && pnpm test');
    const ci = read('.ci/run').trimEnd().split('\n');
    expect(ci[ci.length - 1]).toBe('pnpm test');
  });
});
