import { describe, it, expect, expectTypeOf } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import {
  checkMasterPrompt, masterPromptProblems, masterPromptSchema, enforceSchemaVersion, validateMasterPromptBody,
  isSwanErrorLike, type MasterPrompt,
} from './helpers.js';
// `@swan/schema/standalone` for users; the root tsconfig maps only package roots, so import the source.
import * as standalone from '../src/standalone.js';
import { fixtures, invalidCases, validPrompt, fullPrompt } from './fixtures.js';

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
    expectTypeOf(fixtures.valid).toEqualTypeOf<MasterPrompt>();
    expectTypeOf<MasterPrompt['client_profile']['basic_info']['age']>().toEqualTypeOf<number>();
    expectTypeOf<MasterPrompt['client_profile']['basic_info']['gender']>().toEqualTypeOf<'Male' | 'Female' | 'Non-binary' | 'Prefer not to say' | undefined>();
    expectTypeOf<MasterPrompt['meta']['confidentiality_level']>().toEqualTypeOf<'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL' | undefined>();
    expectTypeOf<NonNullable<MasterPrompt['client_profile']['medications']>[number]['name']>().toEqualTypeOf<string>();
    // @ts-expect-error -- closed objects: no date_of_birth in basic_info
    expectTypeOf<MasterPrompt['client_profile']['basic_info']['date_of_birth']>().toBeNever();
  });
});
