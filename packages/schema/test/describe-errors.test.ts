import { describe, it, expect } from 'vitest';
import { checkMasterPrompt, describeErrors, masterPromptProblems, problemField, type DescribeOptions, type MessageTable, type Problem } from './helpers.js';
// `@swan/schema/standalone` for users; the root tsconfig maps only package roots, so import the source.
import * as standalone from '../src/standalone.js';
import { fullPrompt, invalidCases, validPrompt } from './fixtures.js';

const labels: DescribeOptions['labels'] = {
  '/meta/client_id': 'Client',
  '/meta/data_retention_years': { label: 'Keep for', unit: 'years' },
  '/meta/confidentiality_level': 'Confidentiality',
  '/meta/effective_date': 'Effective from',
  '/client_profile/basic_info/age': { label: 'Age', unit: 'years' },
  '/client_profile/basic_info/height_inches': { label: 'Height', unit: 'inches' },
  '/client_profile/basic_info/weight_lbs': { label: 'Weight', unit: 'lbs' },
  '/client_profile/basic_info/gender': 'Gender',
  '/client_profile/basic_info/bmi': 'BMI',
  '/client_profile/training_tier': 'Package',
  '/client_profile/training_tier/tier_name': 'Tier name',
  '/client_profile/training_tier/session_rate_usd': { label: 'Session rate', unit: 'USD' },
  '/client_profile/training_history/injury_history/0/status': 'Status of the first injury',
  '/client_profile/session_preferences/preferred_days': 'Preferred days',
  '/client_profile/medications': 'Medications',
};

/** German, as a second language plugged in through the locale hook (a table with strings and one function). */
const german: MessageTable = {
  required: '{label} ist erforderlich',
  type: '{label} muss {type} sein[ (in {unit})]',
  'type:integer': 'eine ganze Zahl',
  'type:number': 'eine Zahl',
  'type:string': 'ein Text',
  minimum: '{label} muss mindestens {limit}[ {unit}] sein',
  maximum: '{label} muss höchstens {limit}[ {unit}] sein',
  enum: '{label} muss eines davon sein: {values}',
  format: '{label} muss {format} sein',
  'format:uuid': 'eine UUID',
  pattern: (c) => `${c.label} hat nicht die erwartete Form`,
  additionalProperties: (c) => (c.personalData ? undefined : `${c.label} ist kein bekanntes Feld von ${c.parent}`),
};

const validators = [
  ['server (Ajv)', checkMasterPrompt, masterPromptProblems],
  ['standalone (precompiled)', standalone.checkMasterPrompt, standalone.masterPromptProblems],
] as const;

const messagesOf = (problems: Problem[]) => problems.map((p) => p.message);

describe.each(validators)('%s validator with a form\'s labels', (_name, check, problemsOf) => {
  it('words every keyword kind with the label and unit', () => {
    const doc = validPrompt() as any;
    delete doc.meta.client_id;                                    // required
    doc.client_profile.basic_info.height_inches = 70.5;           // integer (type)
    doc.client_profile.basic_info.weight_lbs = 'heavy';           // type number
    doc.client_profile.basic_info.age = 12;                       // minimum
    doc.client_profile.training_tier.session_rate_usd = 5000;     // maximum
    doc.meta.effective_date = 'tomorrow';                         // format
    doc.client_profile.basic_info.gender = 'M';                   // enum
    doc.client_profile.training_tier.tier_name = 'Gold\u0000';    // pattern
    doc.client_profile.basic_info.shoe_size = 44;                 // additionalProperties
    const problems = problemsOf(doc, { labels });
    expect(new Set(messagesOf(problems))).toEqual(new Set([
      'Client is required',
      'Height must be a whole number of inches',
      'Weight must be a number of lbs',
      'Age must be at least 13 years',
      'Session rate must be at most 1000 USD',
      'Effective from must be a date and time in ISO 8601 format with a time zone, e.g. 2025-11-04T09:00:00Z',
      'Gender must be one of: Male, Female, Non-binary, Prefer not to say',
      'Tier name must not contain NUL characters or unpaired surrogates',
      'shoe_size is not a known field of basic_info',
    ]));
    // the problem itself keeps its path, keyword, allowed and property: only the sentence changes
    expect(problems.find((p) => p.keyword === 'required')).toEqual({
      path: '/meta', instancePath: '/meta', keyword: 'required', property: 'client_id', message: 'Client is required',
    });
    expect(problems.find((p) => p.keyword === 'minimum')).toMatchObject({ allowed: { minimum: 13 }, path: '/client_profile/basic_info/age' });
    const r = check(doc, { labels });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/^Master prompt does not match schema v3 \(9 problems\): /);
  });

  it('labels nested paths and array items, and the parent of an unknown field', () => {
    const doc = fullPrompt() as any;
    doc.client_profile.training_history.injury_history[0].status = 'Broken';
    doc.client_profile.session_preferences.preferred_days = ['Monday', 'Monday'];
    doc.client_profile.medications = Array.from({ length: 51 }, () => ({ name: 'Aspirin' }));
    doc.client_profile.training_tier.colour = 'gold';
    const problems = problemsOf(doc, { labels });
    expect(new Set(messagesOf(problems))).toEqual(new Set([
      'Status of the first injury must be one of: Active, Recovering, Resolved, Chronic',
      'Preferred days must not list the same value twice (items 1 and 0)',
      'Medications must have at most 50 items',
      'colour is not a known field of Package',
    ]));
  });

  it('keeps the schema-name sentence for a field without a label, and today\'s output without options', () => {
    const doc = validPrompt() as any;
    doc.client_profile.basic_info.age = 12;
    delete doc.client_profile.training_tier.session_rate_usd;
    doc.client_profile.basic_info.body_fat_percentage = 80;
    expect(messagesOf(problemsOf(doc, { labels: { '/client_profile/basic_info/age': 'Age' } }))).toEqual([
      'Age must be at least 13', 'body_fat_percentage must be at most 60', 'session_rate_usd is required in training_tier',
    ]);
    expect(messagesOf(problemsOf(doc))).toEqual([
      'age must be at least 13', 'body_fat_percentage must be at most 60', 'session_rate_usd is required in training_tier',
    ]);
    expect(problemsOf(doc, {})).toEqual(problemsOf(doc));
    for (const c of invalidCases) {
      const plain = check(c.document);
      expect(check(c.document, {})).toEqual(plain);
      expect(check(c.document, { labels: {} })).toEqual(plain);
    }
  });

  it('takes overrides per field and keyword, per field, and per keyword, most specific first', () => {
    const doc = validPrompt() as any;
    doc.client_profile.basic_info.height_inches = 20;
    doc.client_profile.basic_info.weight_lbs = 700;
    doc.client_profile.basic_info.age = 200;
    delete doc.meta.client_id;
    const problems = problemsOf(doc, {
      labels,
      messages: {
        '/client_profile/basic_info/height_inches': { minimum: (c) => `${c.label} must be at least ${Math.round(c.limit! * 2.54)} cm` },
        '/client_profile/basic_info/weight_lbs': 'Check {label}[ ({unit})]',
        maximum: '{label} is too high (at most {limit}[ {unit}])',
        required: (c) => (c.field === '/meta/client_id' ? 'Choose a client from the list' : undefined),
      },
    });
    expect(messagesOf(problems)).toEqual([
      'Choose a client from the list',
      'Age is too high (at most 120 years)',
      'Height must be at least 91 cm',
      'Check Weight (lbs)',
    ]);
  });

  it('speaks another language through the locale hook: a table, and a function', () => {
    const doc = validPrompt() as any;
    delete doc.meta.client_id;
    doc.client_profile.basic_info.height_inches = 70.5;
    doc.client_profile.basic_info.age = 12;
    doc.client_profile.basic_info.gender = 'M';
    doc.meta.data_retention_years = 'seven';
    doc.client_profile.training_tier.tier_name = '';
    doc.client_profile.basic_info.email = 'x';
    doc.client_profile.basic_info.shoe_size = 44;
    expect(new Set(messagesOf(problemsOf(doc, { labels, locale: german })))).toEqual(new Set([
      'Client ist erforderlich',
      'Height muss eine ganze Zahl sein (in inches)',
      'Age muss mindestens 13 years sein',
      'Gender muss eines davon sein: Male, Female, Non-binary, Prefer not to say',
      'Keep for muss eine ganze Zahl sein (in years)',
      'Tier name must not be empty', // minLength is not in the table: English
      'email is personal data and is not allowed in the master prompt: PII belongs to the PII package (@swan/pii)',
      'shoe_size ist kein bekanntes Feld von basic_info',
    ]));
    // without labels the table gets the schema names
    expect(messagesOf(problemsOf({ ...validPrompt(), meta: { ...validPrompt().meta, client_id: 'nope' } }, { locale: german }))).toEqual(['client_id muss eine UUID sein']);
    const french = (c: { keyword: string; label: string; limit?: number }) =>
      c.keyword === 'required' ? `${c.label} est obligatoire` : c.keyword === 'minimum' ? `${c.label} doit être au moins ${c.limit}` : undefined;
    expect(new Set(messagesOf(problemsOf(doc, { labels, locale: french })))).toContain('Client est obligatoire');
    expect(new Set(messagesOf(problemsOf(doc, { labels, locale: french })))).toContain('Age doit être au moins 13');
    expect(new Set(messagesOf(problemsOf(doc, { labels, locale: french })))).toContain('Height must be a whole number of inches');
  });

  it('never puts a submitted value or a personal-data key in a labelled message', () => {
    const doc = validPrompt() as any;
    doc.client_profile.basic_info.age = 'Dana 1984-02-29';
    doc.client_profile.basic_info['dana@example.org'] = 1;
    doc.client_profile.basic_info.full_name = 'Dana Example';
    const options: DescribeOptions = { labels, messages: { additionalProperties: '{property} in {parent}' }, locale: german };
    const text = JSON.stringify(problemsOf(doc, options)) + JSON.stringify(check(doc, options));
    for (const secret of ['Dana', 'dana@example.org', '1984']) expect(text).not.toContain(secret);
  });
});

describe('describeErrors of problems already described (a server\'s details)', () => {
  it('words the server\'s problems in the form\'s labels exactly as the browser would', () => {
    const doc = fullPrompt() as any;
    delete doc.meta.client_id;
    doc.client_profile.basic_info.height_inches = 70.5;
    doc.client_profile.basic_info.age = 12;
    doc.meta.effective_date = 'soon';
    doc.client_profile.basic_info.gender = 'M';
    doc.client_profile.training_tier.tier_name = '';
    doc.client_profile.session_preferences.preferred_days = ['Monday', 'Monday'];
    doc.client_profile.basic_info.shoe_size = 44;
    const server = masterPromptProblems(doc);
    expect(describeErrors(server)).toEqual(server);
    expect(describeErrors(server, { labels })).toEqual(masterPromptProblems(doc, { labels }));
    expect(describeErrors(server, { labels, locale: german })).toEqual(masterPromptProblems(doc, { labels, locale: german }));
  });

  it('problemField is the key of the labels map', () => {
    const problems = masterPromptProblems({ ...validPrompt(), meta: { prompt_version: '3.0.0', created_date: '2025-11-04T09:00:00Z', last_updated: '2025-11-04T09:00:00Z', 'a/b': 1 } });
    expect(problems.map(problemField)).toEqual(['/meta/client_id', '/meta/a~1b']);
  });
});
