import { readFileSync } from 'node:fs';

/** A test as a document names it: `path/to/file.test.ts › title`. */
export interface TestReference {
  file: string;
  title: string;
}

/** One `it(…)`/`test(…)` of a file: its title as written, and whether it runs (`.skip`/`.todo` do not). */
export interface TestTitle {
  title: string;
  runs: boolean;
}

const QUOTES = new Set(["'", '"', '`']);

/** Reads the string literal that starts at `text[start]` (a quote); returns its raw content and the index after it. */
function literal(text: string, start: number): { raw: string; end: number } | null {
  const quote = text[start]!;
  let raw = '';
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      raw += text[i + 1] === quote ? quote : c + (text[i + 1] ?? '');
      i++;
    } else if (c === quote) {
      return { raw, end: i + 1 };
    } else if (quote === '`' && c === '$' && text[i + 1] === '{') {
      // keep `${…}` as written (balanced braces)
      let depth = 0;
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}' && --depth === 0) break;
      }
      raw += text.slice(i, j + 1);
      i = j;
    } else {
      if (quote !== '`' && c === '\n') return null;
      raw += c;
    }
  }
  return null;
}

/** Skips a balanced `(…)` starting at `text[start]`, string literals included; returns the index after it. */
function skipParens(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (QUOTES.has(c)) {
      const l = literal(text, i);
      if (l) i = l.end - 1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
  }
  return text.length;
}

/**
 * The titles of every `it(…)` and `test(…)` in a test file's source, including those inside
 * `describe` blocks and with modifiers (`it.each(cases)(…)`, `it.runIf(…)(…)`, `it.skipIf(…)(…)`,
 * `it.concurrent(…)`); `.skip` and `.todo` tests are listed as not running.
 *
 * @example
 * ```ts
 * testTitles("describe('x', () => { it('adds', () => {}); });"); // [{ title: 'adds', runs: true }]
 * ```
 */
export function testTitles(source: string): TestTitle[] {
  const out: TestTitle[] = [];
  for (const m of source.matchAll(/(?<![\w.$])(it|test)(?=[.(])/g)) {
    let i = m.index! + m[1]!.length;
    let runs = true;
    while (source[i] === '.') {
      const name = /^\.(\w+)/.exec(source.slice(i))?.[1];
      if (!name) break;
      if (name === 'skip' || name === 'todo') runs = false;
      i += name.length + 1;
      if (source[i] === '(' && !['only', 'skip', 'todo', 'concurrent', 'sequential', 'fails'].includes(name)) i = skipParens(source, i);
    }
    if (source[i] !== '(') continue;
    i++;
    while (/\s/.test(source[i] ?? '')) i++;
    if (!QUOTES.has(source[i] ?? '')) continue;
    const l = literal(source, i);
    if (l) out.push({ title: l.raw, runs });
  }
  return out;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether a title as a document names it is the title as written in the source: equal, or equal
 * with each `${…}` of a template literal and each `$name`/`%s`-style placeholder of `.each`
 * standing for any text.
 *
 * @example
 * ```ts
 * titleMatches('erasure on ${engine}', 'erasure on postgres'); // true
 * ```
 */
export function titleMatches(source: string, named: string): boolean {
  if (source === named) return true;
  const parts = source.split(/(\$\{[^}]*\}|\$[A-Za-z_][\w.]*|%[sdifjo#%])/);
  if (parts.length === 1) return false;
  const pattern = parts.map((p, i) => (i % 2 ? '.+?' : escape(p))).join('');
  return new RegExp(`^${pattern}$`, 's').test(named);
}

/**
 * The test references of a Markdown document: every `` `path/to/file.test.ts › title` `` in it.
 *
 * @example
 * ```ts
 * testReferences('| x | `a.test.ts › adds` |'); // [{ file: 'a.test.ts', title: 'adds' }]
 * ```
 */
export function testReferences(markdown: string): TestReference[] {
  return [...markdown.matchAll(/`([\w./-]+\.test\.ts) › ([^`]+)`/g)].map((m) => ({ file: m[1]!, title: m[2]! }));
}

/** The titles of the running tests of `path` (empty when it does not exist). */
export function runningTitles(path: string): string[] {
  try {
    return testTitles(readFileSync(path, 'utf8')).filter((t) => t.runs).map((t) => t.title);
  } catch {
    return [];
  }
}
