import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assembleRopa, loadProcessingRecords } from '@swan/cli';
import { runningTitles, testReferences, testTitles, titleMatches } from './test-titles.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const gdpr = readFileSync(`${root}docs/gdpr.md`, 'utf8');

/** The articles docs/gdpr.md must map, each to a mechanism and at least one test. */
const ARTICLES = ['Art. 5(1)(b)', 'Art. 5(1)(c)', 'Art. 5(1)(e)', 'Art. 5(2)', 'Art. 7(1)', 'Art. 7(3)', 'Art. 15', 'Art. 16', 'Art. 17', 'Art. 18', 'Art. 20', 'Art. 25', 'Art. 30', 'Art. 32'];

/** The rows of the map: `| Art. … | obligation | mechanism | tests |`. */
function mapRows(markdown: string): Map<string, string> {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('The map'));
  if (!section) throw new Error('docs/gdpr.md has no "## The map" section');
  return new Map([...section.matchAll(/^\| (Art\. [^|]+?) \| (.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** Where vitest.config.ts picks tests up: a named test elsewhere would never run in CI. */
const RUN_BY_CI = /^(packages\/[a-z-]+\/test|examples\/server\/test)\/[\w./-]+\.test\.ts$/;

describe('docs/gdpr.md', () => {
  it('maps every article to a mechanism and to tests that exist and run', () => {
    const rows = mapRows(gdpr);
    expect([...rows.keys()]).toEqual(ARTICLES);
    const missing: string[] = [];
    for (const [article, row] of rows) {
      const refs = testReferences(row);
      expect(refs.length, `${article} names no test`).toBeGreaterThan(0);
      for (const ref of refs) {
        const where = `${article}: ${ref.file} › ${ref.title}`;
        if (!RUN_BY_CI.test(ref.file)) missing.push(`${where} (not a file CI runs)`);
        else if (!existsSync(`${root}${ref.file}`)) missing.push(`${where} (no such file)`);
        else if (!runningTitles(`${root}${ref.file}`).some((t) => titleMatches(t, ref.title))) missing.push(`${where} (no such test)`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('lists what erasure does to every table that holds personal data (as swan ropa reports them)', async () => {
    const section = gdpr.split(/^## /m).find((s) => s.startsWith('What erasure does to each table'))!;
    expect(section).toBeDefined();
    const ropa = assembleRopa(await loadProcessingRecords());
    expect(ropa.tables.length).toBeGreaterThan(10);
    for (const t of ropa.tables) expect(section, t.table).toContain(`\`${t.table}\` (${t.package})`);
  });
});

describe('reading test titles', () => {
  const source = [
    "describe('outer', () => {",
    "  it('plain', () => {});",
    '  describe.each(cases)(\'$name\', ({ x }) => {',
    '    test("double \\"quoted\\"", async () => {});',
    "    it.each(ROUTES.map((r) => ({ name: `${r.method} ${r.path}` })))('$name: never 5xx', async () => {});",
    "    it.runIf(engine.name === 'postgres')('only on PostgreSQL', async () => {});",
    '    it(`template ${engine.name} title`, () => {});',
    "    it.skip('skipped', () => {});",
    "    it.todo('later');",
    "    it('it\\'s escaped', () => {});",
    '  });',
    '});',
    "const r = /x/.test('not a test');",
  ].join('\n');

  it('finds every it and test, inside describe blocks and behind modifiers, and knows which do not run', () => {
    expect(testTitles(source)).toEqual([
      { title: 'plain', runs: true },
      { title: 'double "quoted"', runs: true },
      { title: '$name: never 5xx', runs: true },
      { title: 'only on PostgreSQL', runs: true },
      { title: 'template ${engine.name} title', runs: true },
      { title: 'skipped', runs: false },
      { title: 'later', runs: false },
      { title: "it's escaped", runs: true },
    ]);
  });

  it('matches a named title literally, or with template and each placeholders standing for any text', () => {
    expect(titleMatches('plain', 'plain')).toBe(true);
    expect(titleMatches('plain', 'plain!')).toBe(false);
    expect(titleMatches('template ${engine.name} title', 'template ${engine.name} title')).toBe(true);
    expect(titleMatches('template ${engine.name} title', 'template postgres title')).toBe(true);
    expect(titleMatches('template ${engine.name} title', 'template title')).toBe(false);
    expect(titleMatches('$name: never 5xx', 'GET /api/x: never 5xx')).toBe(true);
    expect(titleMatches('a (b) [c]', 'a (b) [c]')).toBe(true);
    expect(testReferences('| x | `a/b.test.ts › one`<br>`c.test.ts › two (2)` |')).toEqual([
      { file: 'a/b.test.ts', title: 'one' }, { file: 'c.test.ts', title: 'two (2)' },
    ]);
  });
});
