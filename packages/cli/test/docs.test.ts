import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commands } from '@swan/cli';

const doc = readFileSync(new URL('../../../docs/cli.md', import.meta.url), 'utf8');
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('docs/cli.md', () => {
  it('has a section for every command, and a table row with the default of every option', () => {
    for (const command of commands) {
      expect(doc, command.name).toMatch(new RegExp(`^### swan ${escape(command.name)}\\b`, 'm'));
      expect(readme, command.name).toContain(`swan ${command.name}`);
      for (const [name, o] of Object.entries(command.options ?? {})) {
        const shown = o.defaultText ?? (o.default !== undefined ? String(o.default) : o.type === 'boolean' ? 'false' : 'none');
        expect(doc, `${command.name} --${name}`).toMatch(new RegExp(`^\\| \`--${escape(name)}[^|]*\` \\| \`${escape(shown)}\` \\|`, 'm'));
      }
    }
  });
});
