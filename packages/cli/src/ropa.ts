import { sql, type Kysely } from 'kysely';
import type { ProcessingRecord } from '@swan/core';
import { UsageError } from './command.js';

/** What a package's processing record may be given: the configured read purposes (`@swan/pii`). */
export interface ProcessingRecordOptions {
  purposes?: readonly string[];
}

/**
 * The packages `swan ropa` describes, loaded on demand: each returns the `ProcessingRecord` the
 * package itself exports. A package adds one line here (and becomes a dependency of `@swan/cli`);
 * what it processes is said in the package, never here.
 *
 * @example
 * ```ts
 * const record = await processingRecordRegistry.pii!({ purposes: ['session_planning'] });
 * ```
 */
export const processingRecordRegistry: Record<string, (options: ProcessingRecordOptions) => Promise<ProcessingRecord>> = {
  core: async () => (await import('@swan/core')).coreProcessingRecord(),
  outbox: async () => (await import('@swan/outbox')).outboxProcessingRecord(),
  pii: async (o) => (await import('@swan/pii')).piiProcessingRecord(o.purposes ? { purposes: o.purposes } : {}),
  consent: async () => (await import('@swan/consent')).consentProcessingRecord(),
  schema: async () => (await import('@swan/schema')).schemaProcessingRecord(),
  billing: async () => (await import('@swan/billing')).billingProcessingRecord(),
  checkins: async () => (await import('@swan/checkins')).checkinsProcessingRecord(),
};

/**
 * The records of the packages installed in `db`: a package counts as installed when one of the
 * tables its record names exists (`@swan/core` always is).
 *
 * @example
 * ```ts
 * const records = await installedProcessingRecords(db, await loadProcessingRecords());
 * ```
 */
export async function installedProcessingRecords(db: Kysely<any>, records: readonly ProcessingRecord[]): Promise<ProcessingRecord[]> {
  const names = [...new Set(records.flatMap((r) => r.tables.map((t) => t.table)))];
  const { rows } = await sql<{ name: string }>`
    select t.name from unnest(${names}::text[]) as t(name) where to_regclass(t.name) is not null`.execute(db);
  const present = new Set(rows.map((r) => r.name));
  return records.filter((r) => r.package === 'core' || r.tables.some((t) => present.has(t.table)));
}

/** A retention rule as the record shows it (without its `run`). */
export interface RopaRetentionRule {
  name: string;
  package: string;
  table: string;
  defaultWindowMs: number | null;
  /** `7 days`, `2190 days`, or `off (runs only when given a window)`. */
  defaultWindow: string;
  description: string;
}

/**
 * The record of processing activities (GDPR Art. 30), assembled from the packages' own
 * `ProcessingRecord`s: what `swan ropa --json` prints.
 */
export interface Ropa {
  packages: Array<Pick<ProcessingRecord, 'package' | 'activity' | 'purposes' | 'dataSubjects'>>;
  /** The purposes a PII read must state. */
  readPurposes: string[];
  consentTypes: string[];
  /** Every event type defined, published or handled, with the packages that publish and handle it. */
  eventTypes: Array<{ type: string; publishedBy: string[]; consumedBy: string[] }>;
  /** Every table holding personal data, with what erasure does to it and how long rows stay. */
  tables: Array<{ table: string; package: string; holds: string; categories: string[]; encrypted: boolean; erasure: string; retention: string; retentionRules: string[] }>;
  processors: Array<{ name: string; package: string; purpose: string; data: string[]; notes: string | null }>;
  retentionRules: RopaRetentionRule[];
  measures: Array<{ package: string; measure: string }>;
}

const DAY = 86_400_000;

function windowText(ms: number | null): string {
  if (ms === null) return 'off (runs only when given a window)';
  return ms % DAY === 0 ? `${ms / DAY} days` : `${ms / 3_600_000} hours`;
}

/**
 * Loads the processing records of `names` (default: every package of
 * {@link processingRecordRegistry}), checking each name.
 *
 * @example
 * ```ts
 * const records = await loadProcessingRecords(['pii', 'consent']);
 * ```
 */
export async function loadProcessingRecords(
  names: readonly string[] = Object.keys(processingRecordRegistry),
  options: ProcessingRecordOptions = {},
  registry = processingRecordRegistry,
): Promise<ProcessingRecord[]> {
  const unknown = names.filter((n) => !registry[n]);
  if (unknown.length) throw new UsageError(`Unknown package ${unknown.map((n) => `"${n}"`).join(', ')}; known: ${Object.keys(registry).join(', ')}`);
  return Promise.all(names.map((n) => registry[n]!(options)));
}

/**
 * Assembles packages' processing records into one record of processing activities: tables,
 * processors, event types (who publishes and who handles each), retention rules (joined to their
 * tables), purposes, consent types and measures.
 *
 * @example
 * ```ts
 * const ropa = assembleRopa(await loadProcessingRecords());
 * ropa.tables.map((t) => t.table); // ['swan_audit_log', 'swan_outbox', …]
 * ```
 */
export function assembleRopa(records: readonly ProcessingRecord[]): Ropa {
  const retentionRules = records.flatMap((r) => r.retentionRules.map((rule): RopaRetentionRule => ({
    name: rule.name, package: r.package, table: rule.table, defaultWindowMs: rule.defaultWindowMs, defaultWindow: windowText(rule.defaultWindowMs), description: rule.description,
  })));
  const events = new Map<string, { type: string; publishedBy: string[]; consumedBy: string[] }>();
  const event = (type: string) => events.get(type) ?? events.set(type, { type, publishedBy: [], consumedBy: [] }).get(type)!;
  for (const r of records) {
    for (const t of r.eventTypes ?? []) event(t);
    for (const t of r.publishes) event(t).publishedBy.push(r.package);
    for (const t of r.consumes) event(t).consumedBy.push(r.package);
  }
  const unique = (values: Iterable<string>) => [...new Set(values)];
  return {
    packages: records.map((r) => ({ package: r.package, activity: r.activity, purposes: [...r.purposes], dataSubjects: [...r.dataSubjects] })),
    readPurposes: unique(records.flatMap((r) => r.readPurposes ?? [])),
    consentTypes: unique(records.flatMap((r) => r.consentTypes ?? [])),
    eventTypes: [...events.values()].sort((a, b) => a.type.localeCompare(b.type)),
    tables: records.flatMap((r) => r.tables.map((t) => {
      const rules = retentionRules.filter((rule) => rule.table === t.table);
      const byRule = rules.map((rule) => `${rule.name}: ${rule.description}, after ${rule.defaultWindow}`).join('; ');
      return {
        table: t.table, package: r.package, holds: t.holds, categories: [...t.categories], encrypted: t.encrypted, erasure: t.erasure,
        retention: [byRule, t.retention].filter(Boolean).join('; ') || 'not stated',
        retentionRules: rules.map((rule) => rule.name),
      };
    })),
    processors: records.flatMap((r) => r.processors.map((p) => ({ name: p.name, package: r.package, purpose: p.purpose, data: [...p.data], notes: p.notes ?? null }))),
    retentionRules,
    measures: records.flatMap((r) => r.measures.map((measure) => ({ package: r.package, measure }))),
  };
}

const cell = (text: string) => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const code = (text: string) => `\`${text}\``;
function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

/**
 * The record as Markdown: one section per part of GDPR Art. 30(1), each a table.
 *
 * @example
 * ```ts
 * process.stdout.write(ropaMarkdown(assembleRopa(await loadProcessingRecords())));
 * ```
 */
export function ropaMarkdown(ropa: Ropa): string {
  const list = (items: readonly string[]) => items.join('; ');
  const sections = [
    '# Record of processing activities (GDPR Art. 30)',
    'Generated by `swan ropa` from the processing records the installed Swan packages export. Add the controller\'s name and contact details, and the data protection officer\'s, before filing it.',
    '## Processing activities',
    table(['package', 'activity', 'purposes', 'data subjects'], ropa.packages.map((p) => [code(`@swan/${p.package}`), p.activity, list(p.purposes), list(p.dataSubjects)])),
    '## Purposes a read of personal data must state',
    ropa.readPurposes.length ? ropa.readPurposes.map((p) => `- ${code(p)}`).join('\n') : '_none registered_',
    '## Consent types',
    ropa.consentTypes.length ? ropa.consentTypes.map((c) => `- ${code(c)}`).join('\n') : '_none registered_',
    '## Tables holding personal data',
    table(['table', 'package', 'holds', 'categories of personal data', 'encrypted', 'erasure', 'retention'],
      ropa.tables.map((t) => [code(t.table), t.package, t.holds, list(t.categories), t.encrypted ? 'yes' : 'no', t.erasure, t.retention])),
    '## Recipients: processors',
    ropa.processors.length
      ? table(['processor', 'package', 'purpose', 'personal data it receives', 'notes'], ropa.processors.map((p) => [p.name, p.package, p.purpose, list(p.data), p.notes ?? '']))
      : '_none registered_',
    '## Event types',
    table(['event type', 'published by', 'handled by'], ropa.eventTypes.map((e) => [code(e.type), e.publishedBy.join(', ') || 'the host application', e.consumedBy.join(', ') || 'the host application'])),
    '## Retention rules (`swan retention run`)',
    table(['rule', 'package', 'table', 'default window', 'what is removed'], ropa.retentionRules.map((r) => [code(r.name), r.package, code(r.table), r.defaultWindow, r.description])),
    '## Security measures (Art. 32)',
    table(['package', 'measure'], ropa.measures.map((m) => [m.package, m.measure])),
  ];
  return `${sections.join('\n\n')}\n`;
}
