import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commands, resolveMigrationSets, runCli, type CliIo, type Command } from '@swan/cli';
import { swan } from './harness.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const io = (): CliIo => ({ stdout: () => undefined, stderr: () => undefined, env: {} });

describe('swan: version and help', () => {
  it('prints the package version with --version and -v', async () => {
    for (const flag of ['--version', '-v']) {
      const r = await swan([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${pkg.version}\n`);
    }
  });

  it('lists every command with --help (exit 0) and without a command (exit 2)', async () => {
    const help = await swan(['--help']);
    expect(help.code).toBe(0);
    for (const c of commands) expect(help.stdout).toContain(`  ${c.name} `);
    const bare = await swan([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe(help.stdout);
  });

  it('shows the same help with `swan help <command>` and `swan <command> --help`: description, and every option with its description and default', async () => {
    for (const command of commands) {
      const viaHelp = await swan(['help', ...command.name.split(' ')]);
      const viaFlag = await swan([...command.name.split(' '), '--help']);
      expect(viaHelp.code, command.name).toBe(0);
      expect(viaFlag.code, command.name).toBe(0);
      expect(viaFlag.stdout).toBe(viaHelp.stdout);
      expect(viaHelp.stdout).toContain(`Usage: swan ${command.name}`);
      const options = Object.entries(command.options ?? {});
      for (const [name, spec] of options) {
        expect(spec.description.length, `${command.name} --${name}`).toBeGreaterThan(10);
        const line = viaHelp.stdout.split('\n').find((l) => l.includes(`--${name}`) && l.includes(spec.description));
        expect(line, `${command.name} --${name}`).toMatch(/\(default: [^)]+\)$/);
      }
      expect(viaHelp.stdout).toContain('-h, --help');
    }
    // defaults are the real ones
    expect((await swan(['help', 'keys', 'rotate'])).stdout).toMatch(/--batch-size <n> +Data keys re-wrapped per transaction \(default: 500\)/);
    expect((await swan(['help', 'migrate'])).stdout).toMatch(/--database-url <url> .*\(default: \$DATABASE_URL\)/);
    expect((await swan(['help', 'legacy', 'split'])).stdout).toMatch(/--dry-run +.*\(default: false\)/);
  });

  it('lists the subcommands of a group: `swan outbox` (exit 2), `swan help outbox` and `swan outbox --help` (exit 0)', async () => {
    const outbox = commands.filter((c) => c.name.startsWith('outbox ')).map((c) => c.name);
    expect(outbox.length).toBeGreaterThanOrEqual(4);
    const bare = await swan(['outbox']);
    expect(bare.code).toBe(2);
    for (const name of outbox) expect(bare.stdout).toContain(`  ${name} `);
    expect(bare.stdout).not.toContain('migrate');
    const help = await swan(['help', 'outbox']);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe(bare.stdout);
    expect((await swan(['outbox', '--help'])).stdout).toBe(bare.stdout);
    for (const group of ['audit', 'keys', 'legacy']) {
      const r = await swan([group]);
      expect(r.code, group).toBe(2);
      expect(r.stdout, group).toContain(`Usage: swan ${group} <command>`);
    }
  });
});

describe('swan: wrong usage (exit 2)', () => {
  it('suggests the nearest command for a typo', async () => {
    const cases: [string[], string][] = [
      [['migrat'], 'swan migrate'],
      [['exprot', 'x'], 'swan export'],
      [['outbox', 'stat'], 'swan outbox stats'],
      [['audit', 'verfy'], 'swan audit verify'],
      [['help', 'keys', 'rotat'], 'swan keys rotate'],
      [['legacy', 'splt', '--dry-run'], 'swan legacy split'],
    ];
    for (const [argv, suggestion] of cases) {
      const r = await swan(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toContain(`Did you mean \`${suggestion}\`?`);
    }
    const far = await swan(['frobnicate']);
    expect(far.code).toBe(2);
    expect(far.stderr).toMatch(/unknown command "frobnicate"/);
    expect(far.stderr).not.toContain('Did you mean');
    // an unknown subcommand of a group lists the group
    const sub = await swan(['outbox', 'frobnicate']);
    expect(sub.stderr).toContain('outbox redrive');
  });

  it('names an unknown option and suggests the nearest one', async () => {
    const r = await swan(['legacy', 'split', '--dry-rn']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--dry-rn'. Did you mean --dry-run?");
    expect(r.stderr).toContain('swan help legacy split');
    const other = await swan(['migrate', '--nope']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/--nope/);
  });

  it('refuses a database command without a database, and with two', async () => {
    const none = await swan(['migrate'], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/No database: give --database-url URL \(or set DATABASE_URL\), or --embedded DIR/);
    for (const argv of [['audit', 'verify'], ['outbox', 'stats'], ['keys', 'rotate']]) {
      expect((await swan(argv, { SWAN_MASTER_KEYS: 'k:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' })).code, argv.join(' ')).toBe(2);
    }
    const both = await swan(['audit', 'verify', '--database-url', 'postgres://x@127.0.0.1/x', '--embedded', '/tmp/x']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('not both');
  });

  it('opens an embedded database only where one exists, except for migrate', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'swan-cli-none-')), 'missing');
    try {
      const r = await swan(['audit', 'verify', '--embedded', dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`swan migrate --embedded ${dir}`);
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });

  it('refuses missing or malformed keys with exit 2 and CONFIG_INVALID, never echoing key material', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swan-cli-keys-'));
    try {
      const none = await swan(['keys', 'rotate', '--embedded', dir]);
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('SWAN_MASTER_KEYS');
      const short = await swan(['keys', 'rotate', '--embedded', dir], { SWAN_MASTER_KEYS: 'k1:c2VjcmV0LXRvby1zaG9ydA==' });
      expect(short.code).toBe(2);
      expect(short.lines()[0].error.code).toBe('CONFIG_INVALID');
      expect(short.stderr).not.toContain('c2VjcmV0LXRvby1zaG9ydA');
      const id = '6f1c9a52-3e0b-4d7a-9c61-2b8e5d4f7a10';
      const noIndex = await swan(['export', id, '--embedded', dir], { SWAN_MASTER_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` });
      expect(noIndex.code).toBe(2);
      expect(noIndex.stderr).toContain('SWAN_INDEX_KEY');
      expect((await swan(['export', 'not-a-uuid', '--embedded', dir])).code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('swan: command table', () => {
  it('matches the longest command name and passes positionals only to commands that take them', async () => {
    const seen: string[] = [];
    const table: Command[] = [
      { name: 'audit', summary: 'a', positionals: true, run: async ({ positionals }) => (seen.push(`audit:${positionals.join(',')}`), 0) },
      { name: 'audit verify', summary: 'b', options: { fast: { type: 'boolean', description: 'Go fast' } }, run: async ({ values }) => (seen.push(`verify:${String(values.fast)}`), 0) },
    ];
    expect(await runCli(['audit', 'verify', '--fast'], io(), table)).toBe(0);
    expect(await runCli(['audit', 'x'], io(), table)).toBe(0);
    expect(await runCli(['audit', 'verify', 'extra'], io(), table)).toBe(2);
    expect(seen).toEqual(['verify:true', 'audit:x']);
  });

  it('adds the dependencies of the selected packages, core first', async () => {
    const registry = {
      core: async () => ({ package: 'core', migrations: [] }),
      pii: async () => ({ package: 'pii', migrations: [] }),
      consent: async () => ({ package: 'consent', dependsOn: ['pii'], migrations: [] }),
    };
    const sets = await resolveMigrationSets(['consent'], registry);
    expect(sets.map((s) => s.package).sort()).toEqual(['consent', 'core', 'pii']);
    await expect(resolveMigrationSets(['nope'], registry)).rejects.toThrow(/Unknown package "nope"/);
  });
});
