/**
 * Problems in the form's own words: the field's label instead of the schema name, overrides per
 * field or keyword, and a locale hook. Pure and Ajv-free like problems.ts, so the standalone
 * (browser) validator answers with exactly the server's sentences.
 */
import { describeError, FORMATS, isPiiFieldName, labelOf, REDACTED_FIELD_NAME, TYPES, type AjvErrorLike, type Problem } from './problems.js';

/** A field's label, optionally with the unit its value is in ("inches"), used in type and limit messages. */
export type FieldLabel = string | { label: string; unit?: string };

/** What a message is written from. Never holds the submitted value. */
export interface MessageContext {
  /** The JSON Schema keyword that failed (`required`, `type`, `minimum`, …). */
  keyword: string;
  /** JSON pointer of the field the message is about; for `required` / `additionalProperties` the property's own pointer. */
  field: string;
  /** The field's label from `labels`, else its schema name (`age`, `injury_history[0].status`). */
  label: string;
  /** True when `labels` has the field. */
  labelled: boolean;
  /** The field's unit from `labels` (`{ label: 'Height', unit: 'inches' }`). */
  unit?: string;
  /** Label (or schema name) of the object holding the field. */
  parent: string;
  /** `minimum`, `maximum`, `minLength`, `maxItems`, … : the limit. */
  limit?: number;
  /** `enum` / `const`: the accepted values. */
  values?: readonly unknown[];
  /** `type`: the expected JSON type names, e.g. `['integer']`. */
  types?: readonly string[];
  /** `format`: the format name (`uuid`, `date`, `date-time`). */
  format?: string;
  /** `pattern`: the regular expression. */
  pattern?: string;
  /** `required` / `additionalProperties`: the property name (`[redacted field name]` when it looks like personal data). */
  property?: string;
  /** `additionalProperties`: the unknown property is personal data (a name, e-mail, … or a name that looks like one). */
  personalData?: boolean;
  /** The sentence without options (English, schema names). */
  defaultMessage: string;
}

/**
 * A message: a function of the context, or a string with placeholders `{label}`, `{limit}`,
 * `{values}`, `{type}`, `{format}`, `{unit}`, `{property}`, `{parent}`, `{pattern}`. Text in
 * square brackets is kept only when every placeholder in it has a value: `'{label} must be at
 * least {limit}[ {unit}]'`. A function may answer `undefined` to fall back to the next source.
 */
export type MessageTemplate = string | ((context: MessageContext) => string | undefined);

/**
 * Sentences of one language, keyed by keyword (`required`, `type`, `minimum`, …). Entries
 * `type:<name>` and `format:<name>` give the words for `{type}` and `{format}`
 * (`'type:integer': 'eine ganze Zahl'`), and `or` joins several types. Missing keywords fall back to English.
 */
export type MessageTable = Readonly<Record<string, MessageTemplate>>;

/** Options of {@link describeErrors} and of the validators' `checkMasterPrompt(data, options)`. */
export interface DescribeOptions {
  /** The form's labels keyed by JSON pointer: `{ '/client_profile/basic_info/height_inches': { label: 'Height', unit: 'inches' } }`. */
  labels?: Readonly<Record<string, FieldLabel>>;
  /**
   * Overrides, most specific first: `'/pointer': { keyword: template }` or `'/pointer': template`
   * (any keyword of that field), then `keyword: template` (every field).
   */
  messages?: Readonly<Record<string, MessageTemplate | Readonly<Record<string, MessageTemplate>>>>;
  /** Another language: a {@link MessageTable}, or a function of the context (`undefined` → English). */
  locale?: MessageTable | ((context: MessageContext) => string | undefined);
}

/** One validation problem as input: an Ajv error, or a problem the package already described (e.g. from the server). */
export type DescribableError = AjvErrorLike | Problem;

const num = (v: unknown) => (v === undefined ? undefined : Number(v));

/** Ajv's params of a problem the package described (the server's `details`), from its `allowed` and `property`. */
function paramsOf(error: DescribableError): Record<string, unknown> {
  if ('params' in error && error.params) return error.params;
  const p = error as Problem;
  const allowed = p.allowed as Record<string, unknown> | unknown[] | undefined;
  if (Array.isArray(allowed)) return { allowedValues: allowed, allowedValue: allowed[0] };
  const [, j, i] = /\(items (\d+) and (\d+)\)$/.exec(p.message) ?? []; // uniqueItems names the two items
  return { ...allowed, missingProperty: p.property, additionalProperty: p.property, limit: allowed?.[p.keyword], i, j };
}

function fill(template: string, c: MessageContext, table: MessageTable): string {
  const words: Record<string, unknown> = {
    ...c,
    values: c.values?.map(String).join(', '),
    type: c.types?.map((t) => String(table[`type:${t}`] ?? TYPES[t] ?? t)).join(String(table.or ?? ' or ')),
    format: c.format && String(table[`format:${c.format}`] ?? FORMATS[c.format] ?? c.format),
  };
  const has = (name: string) => words[name] !== undefined && words[name] !== '';
  return template
    .replace(/\[([^\]]*)\]/g, (_, group: string) => ([...group.matchAll(/\{(\w+)\}/g)].every((m) => has(m[1]!)) ? group : ''))
    .replace(/\{(\w+)\}/g, (whole, name: string) => (has(name) ? String(words[name]) : whole));
}

function apply(template: MessageTemplate | undefined, c: MessageContext, table: MessageTable): string | undefined {
  if (template === undefined) return undefined;
  return typeof template === 'function' ? template(c) : fill(template, c, table);
}

function labelFor(labels: DescribeOptions['labels'], pointer: string): { label: string; unit?: string } | undefined {
  const entry = labels?.[pointer];
  if (entry === undefined) return undefined;
  return typeof entry === 'string' ? { label: entry } : entry;
}

/**
 * One {@link Problem} per validation error, in order. Without options, messages use the schema's
 * names ("height_inches must be a whole number", "client_id is required in meta"); with `labels`
 * they use the form's ("Height must be a whole number of inches", "Client is required").
 * Messages never include submitted values. Accepts Ajv errors or problems already described
 * (a server's `SCHEMA_VALIDATION_FAILED` details), so a form can word the server's answer too.
 *
 * @example
 * ```ts
 * describeErrors([{ instancePath: '/client_profile/basic_info/age', keyword: 'minimum', params: { limit: 13 } }]);
 * // [{ path: '/client_profile/basic_info/age', instancePath: '/client_profile/basic_info/age',
 * //    keyword: 'minimum', message: 'age must be at least 13', allowed: { minimum: 13 } }]
 * describeErrors(errors, { labels: { '/client_profile/basic_info/age': { label: 'Age', unit: 'years' } } });
 * // message: 'Age must be at least 13 years'
 * ```
 */
export function describeErrors(errors: readonly DescribableError[] | null | undefined, options: DescribeOptions = {}): Problem[] {
  const { labels, messages, locale } = options;
  const table: MessageTable = typeof locale === 'object' ? locale : {};
  return (errors ?? []).map((error) => {
    const { instancePath, keyword } = error;
    const ajvError = { instancePath, keyword, params: paramsOf(error) };
    const { message: sentence, ...base } = describeError(ajvError);
    const problem: Problem = { path: instancePath, instancePath, message: '', keyword, ...base };
    const defaultMessage = 'params' in error ? sentence.replace(/^the master prompt/, 'The master prompt') : error.message;
    if (!labels && !messages && !locale) return { ...problem, message: defaultMessage };

    const params = ajvError.params;
    const field = problemField(problem);
    const own = labelFor(labels, field);
    const parent = labelFor(labels, instancePath);
    const unknown = keyword === 'additionalProperties';
    const context: MessageContext = {
      keyword,
      field,
      label: own?.label ?? (field === instancePath ? labelOf(field) : base.property ?? ''),
      labelled: own !== undefined,
      unit: own?.unit,
      parent: parent?.label ?? labelOf(instancePath),
      limit: num(params.limit ?? params.multipleOf),
      values: keyword === 'enum' ? (params.allowedValues as unknown[]) : keyword === 'const' ? [params.allowedValue] : undefined,
      types: params.type === undefined ? undefined : String(params.type).split(','),
      format: params.format as string | undefined,
      pattern: params.pattern as string | undefined,
      property: base.property,
      personalData: unknown ? base.property === REDACTED_FIELD_NAME || isPiiFieldName(base.property ?? '') : undefined,
      defaultMessage,
    };
    const byField = messages?.[field];
    const message = apply(typeof byField === 'object' ? byField[keyword] : byField, context, table)
      ?? apply(messages?.[keyword] as MessageTemplate | undefined, context, table)
      ?? (typeof locale === 'function' ? locale(context) : apply(table[keyword], context, table))
      ?? (unknown ? parent && describeError(ajvError, parent).message : own && describeError(ajvError, own).message);
    return { ...problem, message: message ?? defaultMessage };
  });
}

/**
 * The JSON pointer of the field a problem is about: the missing or unknown property's own pointer
 * for `required` / `additionalProperties`, else `path`. The key of `labels` for the problem.
 *
 * @example
 * ```ts
 * problemField({ path: '/meta', instancePath: '/meta', keyword: 'required', property: 'client_id', message: '…' }); // '/meta/client_id'
 * ```
 */
export function problemField(problem: Pick<Problem, 'path' | 'keyword' | 'property'>): string {
  return (problem.keyword === 'required' || problem.keyword === 'additionalProperties') && problem.property !== undefined
    ? `${problem.path}/${problem.property.replace(/~/g, '~0').replace(/\//g, '~1')}`
    : problem.path;
}
