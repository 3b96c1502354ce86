import { describe, it, expect, expectTypeOf } from 'vitest';
import fc from 'fast-check';
import { existsSync, readFileSync } from 'node:fs';
import {
  checkMasterPrompt, masterPromptProblems, masterPromptSchema, enforceSchemaVersion, validateMasterPromptBody,
  isSwanErrorLike, REDACTED_FIELD_NAME, type MasterPrompt,
} from './helpers.js';
// `@swan/schema/standalone` for users; the root tsconfig maps only package roots, so import the source.
import * as standalone from '../src/standalone.js';
import { FIXTURE_FILE, fixtures, invalidCases, validPrompt, fullPrompt } from './fixtures.js';

const validators = [
  ['server (Ajv)', checkMasterPrompt],
  ['standalone (precompiled)', standalone.checkMasterPrompt],
] as const;

describe.each(validators)('%s validator', (_name, check) => {
  it('accepts the valid fixture and a prompt using every section', () => {
    expect(check(validPrompt())).toEqual({ ok: true, value: validPrompt() });
    expect(check(fullPrompt()).ok).toBe(true);
  });

  it.each(invalidCases)('$name → $code with exactly the listed problems', (c) => {
    const result = check(c.document);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe(c.code);
    if (c.expect) {
      expect((result.details as { instancePath: string; keyword: string }[]).map((p) => ({ instancePath: p.instancePath, keyword: p.keyword }))).toEqual(c.expect);
      for (const p of result.details as { path: string; instancePath: string; message: string }[]) {
        expect(p.path).toBe(p.instancePath);
        expect(p.message.length).toBeGreaterThan(5);
      }
    }
  });

  it('writes sentences a person understands, with allowed values', () => {
    const doc = validPrompt() as any;
    doc.client_profile.basic_info.age = 12;
    doc.client_profile.basic_info.gender = 'M';
    delete doc.client_profile.training_tier.session_rate_usd;
    const r = check(doc);
    if (r.ok) throw new Error('expected failure');
    expect(r.details).toEqual([
      { path: '/client_profile/basic_info/age', instancePath: '/client_profile/basic_info/age', keyword: 'minimum', message: 'age must be at least 13', allowed: { minimum: 13 } },
      { path: '/client_profile/basic_info/gender', instancePath: '/client_profile/basic_info/gender', keyword: 'enum', message: 'gender must be one of: Male, Female, Non-binary, Prefer not to say', allowed: ['Male', 'Female', 'Non-binary', 'Prefer not to say'] },
      { path: '/client_profile/training_tier', instancePath: '/client_profile/training_tier', keyword: 'required', message: 'session_rate_usd is required in training_tier', property: 'session_rate_usd' },
    ]);
    expect(r.message).toBe('Master prompt does not match schema v3 (3 problems): age must be at least 13; gender must be one of: Male, Female, Non-binary, Prefer not to say; session_rate_usd is required in training_tier');
  });

  it('points PII to the PII package and never echoes submitted values', () => {
    const doc = validPrompt() as any;
    doc.client_profile.basic_info.name = 'Dana Example';
    doc.client_profile.basic_info.email = 'dana@example.org';
    doc.client_profile.basic_info.dateOfBirth = '1984-02-29';
    doc.meta.phone_number = '+15555550123';
    doc.client_profile.basic_info.shoe_size = 44;
    const r = check(doc);
    if (r.ok) throw new Error('expected failure');
    const text = JSON.stringify(r);
    for (const secret of ['Dana', 'dana@example.org', '1984-02-29', '5555550123']) expect(text).not.toContain(secret);
    const byProperty = Object.fromEntries((r.details as { property: string; message: string }[]).map((p) => [p.property, p.message]));
    expect(byProperty.name).toBe('name is personal data and is not allowed in the master prompt: PII belongs to the PII package (@swan/pii)');
    expect(byProperty.dateOfBirth).toContain('@swan/pii');
    expect(byProperty.phone_number).toContain('@swan/pii');
    expect(byProperty.shoe_size).toBe('shoe_size is not a known field of basic_info');
  });

  it('never echoes a submitted key that itself looks like personal data', () => {
    const keys = [
      'dana.example@example.org', 'x@y.io', '+1 (555) 555-0123', '555-555-0123', '+447700900123', '4111111111111111',
      'id_98765432', '1984-02-29', '29/02/1984',
    ];
    const doc = validPrompt() as any;
    for (const key of keys) doc.client_profile.basic_info[key] = true;
    doc.meta.shoe_size_42 = true; // a short number in a key is not personal data: named as usual
    const r = check(doc);
    if (r.ok) throw new Error('expected failure');
    const text = JSON.stringify(r);
    for (const key of keys) expect(text).not.toContain(key);
    for (const fragment of ['example.org', '555', '7700900', '41111111', '98765432', '1984']) expect(text).not.toContain(fragment);
    const problems = r.details as { path: string; property: string; message: string; keyword: string }[];
    const redacted = problems.filter((p) => p.property === REDACTED_FIELD_NAME);
    expect(redacted).toHaveLength(keys.length); // one problem each, all under the placeholder
    for (const p of redacted) {
      expect(p).toMatchObject({ path: '/client_profile/basic_info', keyword: 'additionalProperties' });
      expect(p.message).toBe(`${REDACTED_FIELD_NAME} is not a known field of basic_info (its name looks like personal data, so it is not repeated; PII belongs to the PII package, @swan/pii)`);
    }
    expect(problems.find((p) => p.property === 'shoe_size_42')?.message).toBe('shoe_size_42 is not a known field of meta');
    expect(r.message).toContain(REDACTED_FIELD_NAME);
  });

  it('withholds a received schema_version that looks like personal data', () => {
    for (const version of ['dana@example.org', '+15555550123', '1984-02-29']) {
      const r = check({ ...validPrompt(), schema_version: version });
      expect(r).toMatchObject({ ok: false, code: 'INCOMPATIBLE_SCHEMA_VERSION', details: { expected: '3.x.y', received: '[redacted]' } });
      expect(JSON.stringify(r)).not.toContain(version);
    }
  });

  it('names expected and received versions', () => {
    const r = check({ ...validPrompt(), schema_version: '2.9.0' });
    expect(r).toMatchObject({ ok: false, code: 'INCOMPATIBLE_SCHEMA_VERSION', message: 'Expected schema_version 3.x.y, received "2.9.0"', details: { expected: '3.x.y', received: '2.9.0' } });
    expect(check({ ...validPrompt(), schema_version: 3 })).toMatchObject({ code: 'INCOMPATIBLE_SCHEMA_VERSION' });
    expect(check({ ...validPrompt(), schema_version: '3.1.0' }).ok).toBe(true); // minor versions are compatible
    // version check comes first: an invalid body with a bad version reports the version only
    expect(check({ schema_version: '4.0.0', client_profile: 1 })).toMatchObject({ code: 'INCOMPATIBLE_SCHEMA_VERSION' });
  });

  it('labels nested array items', () => {
    const doc = fullPrompt() as any;
    doc.client_profile.training_history.injury_history[0].status = 'Healed';
    doc.client_profile.medications[0].notes = 'a\u0000b';
    const r = check(doc);
    if (r.ok) throw new Error('expected failure');
    expect((r.details as { message: string }[]).map((p) => p.message)).toEqual([
      'injury_history[0].status must be one of: Active, Recovering, Resolved, Chronic',
      'medications[0].notes must not contain NUL characters or unpaired surrogates',
    ]);
  });
});

describe('server and standalone validators', () => {
  it('never throw, and give identical results on arbitrary JSON', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const server = checkMasterPrompt(value);
      expect(standalone.checkMasterPrompt(value)).toEqual(server);
    }), { numRuns: 500 });
  });

  it('agree on dates, date-times and code-point lengths (the standalone code inlines formats and pre-checks .length)', () => {
    const dates = ['2024-02-29', '2023-02-29', '1900-02-29', '2000-02-29', '2025-13-01', '2025-00-10', '2025-04-31', '2025-4-01', '20250401', ''];
    const dateTimes = [
      '2025-11-04T09:00:00Z', '2025-11-04t09:00:00z', '2025-11-04 09:00:00+05:30', '2025-11-04T09:00:00', '2025-11-04T24:00:00Z',
      '2016-12-31T23:59:60Z', '2016-12-31T23:59:61Z', '2025-11-04T09:00:00.123456+0100', '2025-11-04T09:60:00Z', '2025-11-04T09:00:00+24:00',
      '2025-11-04T09:00:00ZZ', '2025-11-04TT09:00:00Z', '2023-02-29T09:00:00Z',
    ];
    const texts = (max: number) => [
      'a'.repeat(max), 'a'.repeat(max + 1), '😀'.repeat(max), '😀'.repeat(max + 1), `${'😀'.repeat(max - 1)}ab`, `${'a'.repeat(max)}😀`,
      '', '😀', '\uD83D', `${'a'.repeat(max - 1)}\uDE00`, 'a\u0000b',
    ];
    const docs: unknown[] = [];
    for (const d of dates) { const doc = fullPrompt() as any; doc.client_profile.movement_screen.assessment_date = d; docs.push(doc); }
    for (const dt of dateTimes) { const doc = fullPrompt() as any; doc.meta.last_updated = dt; doc.meta.change_log[0].date = dt; docs.push(doc); }
    for (const t of texts(50)) { const doc = fullPrompt() as any; doc.meta.change_log[0].version = t; docs.push(doc); }
    for (const t of texts(100)) { const doc = fullPrompt() as any; doc.meta.last_updated_by = t; docs.push(doc); }
    for (const t of texts(200)) { const doc = fullPrompt() as any; doc.client_profile.allergies[0].allergen = t; docs.push(doc); }
    for (const t of texts(1000)) { const doc = fullPrompt() as any; doc.client_profile.movement_screen.notes = t; docs.push(doc); }
    const outcomes = new Set<boolean>();
    for (const doc of docs) {
      const server = checkMasterPrompt(doc);
      outcomes.add(server.ok);
      expect(standalone.checkMasterPrompt(doc)).toEqual(server);
    }
    expect([...outcomes].sort()).toEqual([false, true]); // both sides of every rule were exercised
    // astral characters count once: maxLength code points is fine, one more is not
    const atLimit = fullPrompt() as any;
    atLimit.client_profile.training_tier.tier_name = '😀'.repeat(100);
    expect(standalone.checkMasterPrompt(atLimit).ok).toBe(true);
    atLimit.client_profile.training_tier.tier_name = '😀'.repeat(101);
    expect(standalone.masterPromptProblems(atLimit).map((p) => p.message)).toEqual(['tier_name must be at most 100 characters long']);
  });

  it('give identical problems on mutated master prompts', () => {
    const paths = ['meta', 'client_profile', 'client_profile/basic_info', 'client_profile/training_tier', 'client_profile/training_history',
      'client_profile/training_history/injury_history/0', 'client_profile/movement_screen', 'client_profile/session_preferences',
      'client_profile/medications/0', 'client_profile/wearable_integration', 'meta/change_log/0'];
    const mutation = fc.record({
      at: fc.constantFrom(...paths),
      key: fc.oneof(fc.constantFrom('age', 'gender', 'status', 'notes', 'data_shared', 'preferred_days', 'changes', 'deep_squat', 'email', 'tier'), fc.string()),
      value: fc.oneof(fc.jsonValue(), fc.string({ unit: 'binary' }), fc.double(), fc.integer({ min: -5, max: 200 })),
    });
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
      const doc = fullPrompt() as any;
      for (const m of mutations) {
        const target = m.at.split('/').reduce((o: any, k) => (o && typeof o === 'object' ? o[k] : undefined), doc);
        if (target && typeof target === 'object') target[m.key] = m.value;
      }
      const server = checkMasterPrompt(doc);
      expect(standalone.checkMasterPrompt(doc)).toEqual(server);
    }), { numRuns: 500 });
  });
});

describe('guards', () => {
  const run = (guard: any, body: unknown) => { try { guard({ body }, { setHeader() {} }); return null; } catch (e) { return e; } };
  it('enforceSchemaVersion then validateMasterPromptBody', () => {
    const gate = enforceSchemaVersion('3');
    expect(run(gate, validPrompt())).toBeNull();
    const missing = run(gate, {});
    expect(isSwanErrorLike(missing) && missing.code).toBe('MISSING_SCHEMA_VERSION');
    expect((missing as any).status).toBe(400);
    const bad = run(validateMasterPromptBody, invalidCases.find((c) => c.name === 'too young and too tall')!.document);
    expect((bad as any).code).toBe('SCHEMA_VALIDATION_FAILED');
    expect((bad as any).details).toHaveLength(2);
    expect(() => enforceSchemaVersion('v3')).toThrow(TypeError);
  });
});

describe('schema and types', () => {
  it('the generated files are up to date with schemas/ (run the package build when this fails)', async () => {
    // @ts-expect-error -- plain ESM build script without type declarations
    const { generate } = await import('../scripts/generate.mjs');
    expect(await generate({ check: true })).toEqual([]);
  });

  it('the exported schema is the file in schemas/', () => {
    const file = JSON.parse(readFileSync(new URL('../../../schemas/client-master-prompt-v3.schema.json', import.meta.url), 'utf8'));
    expect(masterPromptSchema).toEqual(file);
  });

  it('MasterPrompt is derived from the schema', () => {
    // The fixture's valid prompt, written out as a literal: `satisfies` makes the type checker
    // hold it against MasterPrompt (excess keys, literal enums, required fields), and the run
    // time check makes sure the literal is the fixture file's content.
    const valid = {
      schema_version: '3.0.0',
      meta: {
        prompt_version: '3.0.0', client_id: '6f1c9a52-3e0b-4d7a-9c61-2b8e5d4f7a10', created_date: '2025-11-04T09:00:00Z',
        last_updated: '2025-11-05T18:30:00Z', last_updated_by: 'trainer:9b2d',
        change_log: [{ version: '3.0.0', date: '2025-11-04T09:00:00Z', changes: 'Initial intake', updated_by: 'trainer:9b2d' }],
        effective_date: '2025-11-04T09:00:00Z', confidentiality_level: 'HIGH', hipaa_compliant: true, data_retention_years: 7,
      },
      client_profile: {
        basic_info: { age: 41, gender: 'Non-binary', height_inches: 70, weight_lbs: 182.4, body_fat_percentage: 24.5, bmi: 26.2 },
        training_tier: { tier: 'Tier 2', tier_name: 'Gold Swan', session_rate_usd: 125, sessions_per_week: 3 },
      },
    } satisfies MasterPrompt;
    expect(valid).toEqual(fixtures.valid);
    const { basic_info } = valid.client_profile;
    // PII keys, unknown enum values, wrong types and missing required fields are type errors:
    const withDob = {
      ...valid,
      // @ts-expect-error -- closed objects: a date of birth is PII, not a basic_info field
      client_profile: { ...valid.client_profile, basic_info: { ...basic_info, date_of_birth: '1984-02-29' } },
    } satisfies MasterPrompt;
    // @ts-expect-error -- an email is not a meta field
    const withEmail = { ...valid, meta: { ...valid.meta, email: 'dana@example.org' } } satisfies MasterPrompt;
    const badGender = {
      ...valid,
      // @ts-expect-error -- gender is one of the schema's enum values
      client_profile: { ...valid.client_profile, basic_info: { ...basic_info, gender: 'M' } },
    } satisfies MasterPrompt;
    const ageAsText = {
      ...valid,
      // @ts-expect-error -- age is a number
      client_profile: { ...valid.client_profile, basic_info: { ...basic_info, age: '41' } },
    } satisfies MasterPrompt;
    // @ts-expect-error -- client_profile is required
    const noProfile = { schema_version: valid.schema_version, meta: valid.meta } satisfies MasterPrompt;
    // … and the validator agrees with the type checker on each of them.
    for (const doc of [withDob, withEmail, badGender, ageAsText, noProfile]) expect(checkMasterPrompt(doc).ok).toBe(false);
    expectTypeOf<MasterPrompt['client_profile']['basic_info']['age']>().toEqualTypeOf<number>();
    expectTypeOf<MasterPrompt['client_profile']['basic_info']['gender']>().toEqualTypeOf<'Male' | 'Female' | 'Non-binary' | 'Prefer not to say' | undefined>();
    expectTypeOf<MasterPrompt['meta']['confidentiality_level']>().toEqualTypeOf<'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL' | undefined>();
    expectTypeOf<NonNullable<MasterPrompt['client_profile']['medications']>[number]['name']>().toEqualTypeOf<string>();
    // @ts-expect-error -- closed objects: no date_of_birth in basic_info
    expectTypeOf<MasterPrompt['client_profile']['basic_info']['date_of_birth']>().toBeNever();
  });
});

// The sample prompts are the project's (../shared/fixtures); the committed copy must not drift.
const SHARED_FIXTURE = new URL('../../../../shared/fixtures/master-prompts.json', import.meta.url);
describe.runIf(existsSync(SHARED_FIXTURE))('the committed fixture copy', () => {
  it('equals ../shared/fixtures/master-prompts.json', () => {
    expect(readFileSync(FIXTURE_FILE, 'utf8')).toBe(readFileSync(SHARED_FIXTURE, 'utf8'));
  });
});
