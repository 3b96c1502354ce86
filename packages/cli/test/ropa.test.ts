import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONSENT_TYPES } from '@swan/consent';
import { builtInValidators } from '@swan/outbox';
import { DEFAULT_PURPOSES } from '@swan/pii';
import { allRetentionRules } from '../src/commands/retention.js';
import type { Ropa } from '../src/ropa.js';
import { swan, targets } from './harness.js';

const migrations = new URL('../../../migrations/', import.meta.url);

/** Every table the migrations create with a `client_id` column: each holds a client's data. */
function tablesWithClientId(): string[] {
  const out: string[] = [];
  for (const pkg of readdirSync(migrations, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    for (const file of readdirSync(new URL(`${pkg.name}/`, migrations)).filter((f) => f.endsWith('.sql'))) {
      const text = readFileSync(new URL(`${pkg.name}/${file}`, migrations), 'utf8');
      for (const m of text.matchAll(/create table (?:if not exists )?(\w+) \(([\s\S]*?)\n\)[^;\n]*;/gi)) {
        if (/^\s*client_id\s/m.test(m[2]!)) out.push(m[1]!);
      }
      for (const m of text.matchAll(/alter table (\w+) add column (?:if not exists )?client_id\b/gi)) out.push(m[1]!);
    }
  }
  return [...new Set(out)].sort();
}

/** The cells of a Markdown table row (`\|` is a pipe inside a cell). */
const cells = (row: string) => row.replace(/\\\\/g, '').replace(/\\\|/g, '').split('|').length - 2;

describe('swan ropa', () => {
  it('--json lists every table with personal data (each migration table with a client_id column, the audit log, the outbox), every retention rule, purpose, consent type, event type and processor', async () => {
    const r = await swan(['ropa', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const ropa = r.json() as Ropa;
    const tables = ropa.tables.map((t) => t.table);

    const withClientId = tablesWithClientId();
    expect(withClientId.length).toBeGreaterThanOrEqual(13);
    for (const table of [...withClientId, 'swan_audit_log', 'swan_outbox', 'swan_outbox_archive']) expect(tables, table).toContain(table);
    expect(new Set(tables).size).toBe(tables.length);
    for (const t of ropa.tables) {
      expect(t.erasure, t.table).not.toBe('');
      expect(t.retention, t.table).not.toBe('not stated');
      expect(t.categories.length, t.table).toBeGreaterThan(0);
    }

    // the rules `swan retention run` runs, each on a table of the record
    const rules = allRetentionRules();
    expect(ropa.retentionRules.map((x) => x.name).sort()).toEqual(rules.map((x) => x.name).sort());
    for (const rule of rules) {
      expect(ropa.retentionRules.find((x) => x.name === rule.name)).toMatchObject({ table: rule.table, defaultWindowMs: rule.defaultWindowMs });
      expect(ropa.tables.find((t) => t.table === rule.table)?.retentionRules, rule.name).toContain(rule.name);
    }
    expect(ropa.retentionRules.find((x) => x.name === 'audit.log')!.defaultWindow).toBe('2190 days');

    expect(ropa.readPurposes).toEqual([...DEFAULT_PURPOSES]);
    expect(ropa.consentTypes).toEqual([...CONSENT_TYPES]);
    expect(ropa.processors.map((p) => [p.name, p.package])).toEqual(expect.arrayContaining([['Stripe', 'billing'], ['Twilio', 'checkins'], ['AI services', 'pii']]));
    expect(ropa.processors.find((p) => p.name === 'Twilio')!.data).toContain('phone number');

    const events = Object.fromEntries(ropa.eventTypes.map((e) => [e.type, e]));
    for (const type of Object.keys(builtInValidators)) expect(events, type).toHaveProperty(type);
    expect(events.client_erased).toEqual({ type: 'client_erased', publishedBy: ['pii'], consumedBy: ['billing'] });
    expect(events.consent_granted!.publishedBy).toEqual(['consent']);
    expect(events.morning_checkin_scheduled).toMatchObject({ publishedBy: ['checkins'], consumedBy: ['checkins'] });
    expect(events.master_prompt_stored!.publishedBy).toEqual(['schema']);
  });

  it('prints Markdown by default: a section per part of Art. 30(1), a well-formed table row per table, rule, processor and event type', async () => {
    const [md, json] = await Promise.all([swan(['ropa']), swan(['ropa', '--json'])]);
    expect(md.code, md.stderr).toBe(0);
    const ropa = json.json() as Ropa;
    const text = md.stdout;
    expect(text).toMatch(/^# Record of processing activities \(GDPR Art\. 30\)\n/);
    for (const heading of ['Processing activities', 'Purposes a read of personal data must state', 'Consent types', 'Tables holding personal data', 'Recipients: processors', 'Event types', 'Retention rules', 'Security measures']) {
      expect(text).toMatch(new RegExp(`^## ${heading}`, 'm'));
    }
    const rows = text.split('\n').filter((l) => l.startsWith('| '));
    const rowOf = (first: string) => rows.find((l) => l.startsWith(`| ${first} |`));
    for (const t of ropa.tables) expect(rowOf(`\`${t.table}\``), t.table).toContain(t.erasure.replace(/\|/g, '\\|'));
    for (const x of ropa.retentionRules) expect(rowOf(`\`${x.name}\``), x.name).toContain(x.defaultWindow);
    for (const p of ropa.processors) expect(rowOf(p.name), p.name).toBeDefined();
    for (const e of ropa.eventTypes) expect(rowOf(`\`${e.type}\``), e.type).toBeDefined();
    for (const p of ropa.readPurposes) expect(text).toContain(`- \`${p}\``);
    // every row of a table has its header's number of cells
    const blocks = text.split('\n\n').filter((b) => b.startsWith('| '));
    expect(blocks).toHaveLength(6);
    for (const block of blocks) {
      const [head, ...body] = block.trim().split('\n');
      for (const row of body) expect(cells(row), row).toBe(cells(head!));
    }
  });

  it('takes the configured read purposes and a subset of packages; an unknown package is wrong usage', async () => {
    const r = await swan(['ropa', '--json', '--packages', 'pii,consent', '--purposes', 'session_planning, data_subject_request']);
    expect(r.code, r.stderr).toBe(0);
    const ropa = r.json() as Ropa;
    expect(ropa.packages.map((p) => p.package)).toEqual(['pii', 'consent']);
    expect(ropa.readPurposes).toEqual(['session_planning', 'data_subject_request']);
    expect(new Set(ropa.tables.map((t) => t.package))).toEqual(new Set(['pii', 'consent']));
    expect(ropa.retentionRules).toEqual([]);

    const bad = await swan(['ropa', '--packages', 'pii,ledger']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Unknown package "ledger"');
    expect(bad.stdout).toBe('');
  });
});

describe.each(targets)('swan ropa of a database, on $name', ({ create }) => {
  it('describes only the packages installed in it', async () => {
    const target = await create();
    try {
      expect((await swan(['migrate', '--packages', 'consent', ...target.args])).code).toBe(0);
      const r = await swan(['ropa', '--json', ...target.appArgs]);
      expect(r.code, r.stderr).toBe(0);
      const ropa = r.json() as Ropa;
      expect(ropa.packages.map((p) => p.package)).toEqual(['core', 'pii', 'consent']);
      expect(ropa.tables.map((t) => t.table)).toContain('client_consents');
      expect(ropa.tables.map((t) => t.table)).not.toContain('client_subscriptions');
      expect(ropa.processors.map((p) => p.name)).not.toContain('Stripe');
      expect(ropa.retentionRules).toEqual([]);
    } finally {
      await target.dispose();
    }
  });
});
