#!/usr/bin/env node
// The consumer test (run by .ci/run after the build): packs every published package, installs the
// tarballs with npm into scratch apps outside the workspace and uses them as a host app would.
//
//   size app    core+pii+consent+outbox+express with kysely 0.28, pg and Express 5, nothing else:
//               node_modules must stay under SIZE_LIMIT_MB, with no PGlite, AWS SDK or NATS in it;
//               without PGlite and a URL, the first query fails with what to install (ESM and CJS).
//   current     then every tarball, TypeScript and PGlite (when DATABASE_URL is unset): app.ts is
//               type-checked with moduleResolution node16 and bundler and run as ESM and as CommonJS.
//   oldest      the same (node16 resolution) on the oldest versions the peer ranges allow:
//               kysely 0.27.0 and Express 4.21.
//
// Usage: pnpm build && node test/consumer/run.mjs   (SWAN_CONSUMER_KEEP=1 keeps the scratch apps)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SIZE_LIMIT_MB = 32;
const SIZE_PACKAGES = ['@swan/core', '@swan/pii', '@swan/consent', '@swan/outbox', '@swan/express'];
const OPTIONAL_HEAVY = ['@electric-sql/pglite', '@aws-sdk/client-kms', 'nats'];
const PGLITE = '@electric-sql/pglite@^0.5.16';
const TOOLS = ['typescript@~5.9.3', '@types/node@^20.19.0'];

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'swan-consumer-'));
const started = Date.now();

function run(cmd, args, cwd, env = process.env) {
  console.log(`\n$ ${cmd} ${args.join(' ')}   (in ${cwd})`);
  const t0 = Date.now();
  execFileSync(cmd, args, { cwd, env, stdio: 'inherit' });
  console.log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
function fail(message) {
  throw new Error(`consumer test: ${message}`);
}
const npmInstall = (cwd, specs) =>
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...specs], cwd);

function newApp(name) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `swan-consumer-${name}`, private: true, type: 'module' }, null, 2));
  return dir;
}

/** Packs every published package; checks each tarball has its LICENSE and README. */
function packAll() {
  const out = join(work, 'tarballs');
  mkdirSync(out);
  const tarballs = new Map();
  for (const dir of readdirSync(join(root, 'packages'))) {
    const pkgDir = join(root, 'packages', dir);
    if (!existsSync(join(pkgDir, 'package.json'))) continue;
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    if (pkg.private) continue;
    if (!existsSync(join(pkgDir, 'dist'))) fail(`${pkg.name} has no dist/: run pnpm build first`);
    const before = new Set(readdirSync(out));
    execFileSync('pnpm', ['pack', '--pack-destination', out], { cwd: pkgDir, stdio: ['ignore', 'ignore', 'inherit'] });
    const file = readdirSync(out).find((f) => !before.has(f));
    if (!file) fail(`pnpm pack produced no tarball for ${pkg.name}`);
    const entries = execFileSync('tar', ['-tzf', join(out, file)], { encoding: 'utf8' }).split('\n');
    for (const needed of ['package/LICENSE', 'package/README.md', 'package/package.json']) {
      if (!entries.includes(needed)) fail(`${file} has no ${needed.slice('package/'.length)}`);
    }
    tarballs.set(pkg.name, join(out, file));
    console.log(`packed ${file}`);
  }
  console.log(`\npacked ${tarballs.size} packages: ${[...tarballs.keys()].join(', ')}`);
  return tarballs;
}

function sizeOf(dir) {
  const kib = Number(execFileSync('du', ['-sk', join(dir, 'node_modules')], { encoding: 'utf8' }).split('\t')[0]);
  const top = execFileSync('sh', ['-c', 'du -sk node_modules/* node_modules/@*/* 2>/dev/null | sort -n | tail -8'], { cwd: dir, encoding: 'utf8' });
  return { mib: kib / 1024, top };
}

/**
 * Type-checks app.ts as ESM and CommonJS with node16 resolution (emitting them) and, with
 * `bundler`, with bundler resolution too; then runs both.
 */
function typecheckAndRun(dir, { bundler: withBundler, checkLibs }) {
  copyFileSync(join(here, 'app.ts'), join(dir, 'main.mts'));
  copyFileSync(join(here, 'app.ts'), join(dir, 'main.cts'));
  const common = { target: 'ES2022', lib: ['ES2023'], types: ['node'], strict: true, esModuleInterop: true };
  // node16 skips lib checks: libphonenumber-js's own index.d.cts fails them (TS1479, it imports
  // its ESM types.d.ts). With `checkLibs` the bundler pass checks every declaration file, ours
  // included, in an app that has no AWS SDK or NATS (and no PGlite when DATABASE_URL is set).
  const node16 = { ...common, module: 'node16', moduleResolution: 'node16', skipLibCheck: true, outDir: 'out' };
  const bundler = { ...common, module: 'preserve', moduleResolution: 'bundler', skipLibCheck: !checkLibs, noEmit: true };
  writeFileSync(join(dir, 'tsconfig.node16.json'), JSON.stringify({ compilerOptions: node16, files: ['main.mts', 'main.cts'] }, null, 2));
  writeFileSync(join(dir, 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: bundler, files: ['main.mts', 'main.cts'] }, null, 2));
  const tsc = join(dir, 'node_modules', '.bin', 'tsc');
  run(tsc, ['-p', 'tsconfig.node16.json'], dir);
  if (withBundler) run(tsc, ['-p', 'tsconfig.bundler.json'], dir);
  run('node', ['out/main.mjs'], dir);
  run('node', ['out/main.cjs'], dir);
}

function versionIn(dir, name) {
  return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
}

let ok = false;
try {
  console.log(`consumer test in ${work} (${process.env.DATABASE_URL ? 'PostgreSQL at DATABASE_URL' : 'PGlite'})`);
  const tarballs = packAll();
  const all = [...tarballs.values()];
  const pick = (names) => names.map((n) => tarballs.get(n) ?? fail(`${n} was not packed`));
  const extras = [...TOOLS, ...(process.env.DATABASE_URL ? [] : [PGLITE])];

  // 1. what a PostgreSQL user of core+pii+consent+outbox+express installs
  const current = newApp('current');
  npmInstall(current, [...pick(SIZE_PACKAGES), 'kysely@~0.28.0', 'pg@^8.16.3', 'express@^5.0.0']);
  for (const heavy of OPTIONAL_HEAVY) {
    if (existsSync(join(current, 'node_modules', heavy))) fail(`${heavy} is installed although nothing asked for it`);
  }
  const size = sizeOf(current);
  console.log(`\nnode_modules of core+pii+consent+outbox+express, kysely, pg and Express (du -sk): ${size.mib.toFixed(1)} MiB (limit ${SIZE_LIMIT_MB})\n${size.top}`);
  if (size.mib >= SIZE_LIMIT_MB) fail(`node_modules is ${size.mib.toFixed(1)} MiB, over ${SIZE_LIMIT_MB} MiB`);
  for (const script of ['no-pglite.mjs', 'no-pglite.cjs']) {
    copyFileSync(join(here, script), join(current, script));
    const { DATABASE_URL: _ignored, ...env } = process.env;
    run('node', [script], current, env);
  }

  // 2. every package, type-checked and run, on the newest kysely and Express
  npmInstall(current, [...all, ...extras, '@types/express@^5.0.0']);
  console.log(`\ncurrent: kysely ${versionIn(current, 'kysely')}, express ${versionIn(current, 'express')}`);
  typecheckAndRun(current, { bundler: true, checkLibs: true });

  // 3. the same on the oldest kysely and Express the peer ranges accept
  const oldest = newApp('oldest');
  npmInstall(oldest, [...all, ...extras, 'kysely@0.27.0', 'pg@^8.16.3', 'express@~4.21.0', '@types/express@^4.17.21']);
  console.log(`\noldest: kysely ${versionIn(oldest, 'kysely')}, express ${versionIn(oldest, 'express')}`);
  // node16 only (the resolution of the current app's bundler pass does not depend on versions);
  // kysely 0.27.0's own declarations fail TypeScript 5.9's lib checks (TS2344 in query-creator.d.ts)
  typecheckAndRun(oldest, { bundler: false, checkLibs: false });

  ok = true;
  console.log(`\nconsumer test passed in ${Math.round((Date.now() - started) / 1000)} s; install size ${size.mib.toFixed(1)} MiB`);
} finally {
  if (ok && process.env.SWAN_CONSUMER_KEEP !== '1') rmSync(work, { recursive: true, force: true });
  else console.log(`\nscratch apps left in ${work}`);
}
