// Type-checks every ```ts (and ```tsx) block of README.md, docs/*.md and packages/*/README.md against the BUILT
// packages: each block becomes one ES module in a scratch app whose node_modules link `@swan/<pkg>`
// to packages/<pkg> (so imports go through each package's `exports` to dist/*.d.ts, as in a user's
// app) and the third-party packages to the workspace's copies. Run `pnpm build` first.
//
// A block that is deliberately not a complete program is marked as a fragment and skipped:
// ```ts fragment   or   an `<!-- fragment -->` comment on the line before the fence (a reason may
// follow: `<!-- fragment: signatures only -->`). Whatever a snippet assumes from the reader's app is
// declared at its top (`declare const db: Kysely<any>;`).
//
//   node scripts/check-doc-snippets.mjs              every default file
//   node scripts/check-doc-snippets.mjs a.md b.md    these files only
//
// Prints file:line for every failure (the line in the Markdown file) and exits 1; 0 when all pass;
// 2 when the packages are not built.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Languages of the fences that are checked, and the extension their snippet file gets. */
const CHECKED = new Map([['ts', 'ts'], ['typescript', 'ts'], ['tsx', 'tsx']]);

/** The Markdown files whose snippets are checked when none are named. */
export function defaultFiles() {
  const packages = readdirSync(join(root, 'packages')).filter((p) => existsSync(join(root, 'packages', p, 'README.md')));
  const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort();
  return ['README.md', ...docs.map((f) => `docs/${f}`), ...packages.sort().map((p) => `packages/${p}/README.md`)].map((f) => join(root, f));
}

/**
 * The ```ts blocks of a Markdown text: `{ line, code, fragment }`, `line` being the 1-based line of
 * the block's first code line.
 */
export function extractSnippets(markdown) {
  const lines = markdown.split('\n');
  const snippets = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang, rest] = open;
    const close = new RegExp(`^\\s*${fence[0]}{${fence.length},}\\s*$`);
    let end = i + 1;
    while (end < lines.length && !close.test(lines[end])) end++;
    if (CHECKED.has(lang.toLowerCase())) {
      let prev = i - 1;
      while (prev >= 0 && lines[prev].trim() === '') prev--;
      const fragment = /\bfragment\b/.test(rest) || (prev >= 0 && /^\s*<!--\s*fragment\b.*-->\s*$/.test(lines[prev]));
      const code = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l)).join('\n');
      snippets.push({ line: i + 2, code, fragment, extension: CHECKED.get(lang.toLowerCase()) });
    }
    i = end;
  }
  return snippets;
}

/** Links `name` (maybe scoped) in `nodeModules` to `target`, unless already linked. */
function link(nodeModules, name, target) {
  const at = join(nodeModules, name);
  if (existsSync(at)) return;
  mkdirSync(dirname(at), { recursive: true });
  symlinkSync(target, at, 'dir');
}

/** Packages installed in a node_modules folder: `[name, realpath]`. */
function installed(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const sub of readdirSync(join(dir, entry))) out.push([`${entry}/${sub}`, realpathSync(join(dir, entry, sub))]);
    } else {
      out.push([entry, realpathSync(join(dir, entry))]);
    }
  }
  return out;
}

/** A scratch app with node_modules: the published @swan packages, then every workspace dependency. */
function scratchApp() {
  const dir = mkdtempSync(join(tmpdir(), 'swan-doc-snippets-'));
  const nodeModules = join(dir, 'node_modules');
  mkdirSync(nodeModules);
  const unbuilt = [];
  for (const name of readdirSync(join(root, 'packages')).sort()) {
    const pkgDir = join(root, 'packages', name);
    if (!existsSync(join(pkgDir, 'package.json'))) continue;
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    if (pkg.private) continue; // not installable by users, so not importable by snippets
    if (!existsSync(join(pkgDir, 'dist'))) unbuilt.push(pkg.name);
    link(nodeModules, pkg.name, pkgDir);
  }
  const sources = [join(root, 'examples', 'server', 'node_modules'), join(root, 'node_modules'),
    ...readdirSync(join(root, 'packages')).sort().map((p) => join(root, 'packages', p, 'node_modules'))];
  for (const source of sources) for (const [name, target] of installed(source)) link(nodeModules, name, target);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'doc-snippets', private: true, type: 'module' }));
  return { dir, unbuilt };
}

/** Compiler options of a typical strict ESM Node app. */
const OPTIONS = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  moduleDetection: ts.ModuleDetectionKind.Force,
  lib: ['lib.es2023.d.ts'],
  types: ['node'],
  strict: true,
  esModuleInterop: true,
  skipLibCheck: true,
  noEmit: true,
  jsx: ts.JsxEmit.ReactJSX,
};

/**
 * Type-checks the snippets of `files`. Returns `{ checked, fragments, failures }`, each failure
 * `{ file, line, message }` with the Markdown file's path relative to the repository and its line.
 */
export function checkSnippets(files = defaultFiles()) {
  const { dir, unbuilt } = scratchApp();
  try {
    if (unbuilt.length) return { unbuilt, checked: 0, fragments: 0, failures: [] };
    const origin = new Map(); // snippet file → { file, line }
    let fragments = 0;
    for (const file of files) {
      for (const snippet of extractSnippets(readFileSync(file, 'utf8'))) {
        if (snippet.fragment) { fragments++; continue; }
        const name = join(dir, `snippet-${origin.size + 1}.${snippet.extension}`);
        writeFileSync(name, `${snippet.code}\n`);
        origin.set(name, { file: relative(root, file), line: snippet.line });
      }
    }
    const program = ts.createProgram([...origin.keys()], { ...OPTIONS, typeRoots: [join(dir, 'node_modules', '@types')] });
    const failures = [];
    for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      const from = diagnostic.file && origin.get(resolve(diagnostic.file.fileName));
      if (!from) {
        failures.push({ file: diagnostic.file ? diagnostic.file.fileName : '(compiler)', line: 0, message: `TS${diagnostic.code}: ${message}` });
        continue;
      }
      const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      failures.push({ file: from.file, line: from.line + line, message: `TS${diagnostic.code}: ${message}` });
    }
    const order = [...new Set([...origin.values()].map((o) => o.file))];
    failures.sort((a, b) => order.indexOf(a.file) - order.indexOf(b.file) || a.line - b.line);
    return { checked: origin.size, fragments, failures, unbuilt: [] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const files = args.length ? args.map((f) => resolve(f)) : defaultFiles();
  const { checked, fragments, failures, unbuilt } = checkSnippets(files);
  if (unbuilt.length) {
    console.error(`doc snippets: ${unbuilt.join(', ')} not built; run \`pnpm build\` first`);
    process.exit(2);
  }
  for (const f of failures) console.error(`${f.file}:${f.line}: ${f.message.replace(/\n/g, '\n    ')}`);
  const summary = `doc snippets: ${checked} checked, ${fragments} fragments skipped, ${failures.length} errors`;
  if (failures.length) {
    console.error(summary);
    process.exit(1);
  }
  console.log(summary);
}
