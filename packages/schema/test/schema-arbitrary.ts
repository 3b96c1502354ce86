/**
 * A fast-check arbitrary of valid master prompts, built by walking the schema itself (not a fixed
 * prompt with a few fields varied): every definition is reached, optional properties are present
 * or absent, strings are arbitrary Unicode within their code-point limits (astral characters,
 * which count once but take two UTF-16 units, included), numbers hit their bounds, arrays come in
 * lengths from empty to their maxItems. Throws on a schema keyword it does not understand, so
 * a schema change cannot silently escape it.
 */
import fc from 'fast-check';
import { masterPromptSchema } from '@swan/schema';

type Node = Record<string, any>;

const UNDERSTOOD = new Set([
  '$schema', '$id', 'title', 'description', '$comment', 'type', 'properties', 'required', 'additionalProperties',
  '$ref', 'enum', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'format', 'items', 'maxItems', 'uniqueItems', 'definitions',
]);
const VERSION_PATTERN = '^3\\.\\d+\\.\\d+$';
const TEXT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$';
/** Arrays with a large maxItems are generated up to this length (their limit is covered by validator tests). */
const LONGEST_ARRAY = 12;

const root = masterPromptSchema as unknown as Node;

function resolve(node: Node): Node {
  if (!node.$ref) return node;
  const name = /^#\/definitions\/(.+)$/.exec(node.$ref)?.[1];
  const target = name ? root.definitions[name] : undefined;
  if (!target) throw new Error(`unknown $ref ${node.$ref}`);
  return resolve(target);
}

/** Text: any code point but NUL (surrogate halves never come from unit 'binary'), 1 code point = 1 unit of length. */
function text(minLength: number, maxLength: number): fc.Arbitrary<string> {
  const noNul = (s: string) => s.replace(/\u0000/g, '·');
  return fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: 'binary', minLength, maxLength: Math.min(maxLength, 60) }).map(noNul) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: maxLength, maxLength }).map(noNul) },
    // at the limit with astral characters: maxLength code points, 2 × maxLength UTF-16 units
    { weight: 1, arbitrary: fc.constantFrom('𝄞', '😀', 'a', 'é').map((c) => c.repeat(maxLength)) },
    { weight: 1, arbitrary: fc.constantFrom('𝄞', 'x', 'ß', '中').map((c) => c.repeat(Math.max(minLength, 1))) },
  );
}

const dateOf = fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2100-12-31T23:59:59Z'), noInvalidDate: true });

function string(node: Node): fc.Arbitrary<string> {
  if (node.enum) return fc.constantFrom(...(node.enum as string[]));
  if (node.format === 'uuid') return fc.uuid();
  if (node.format === 'date-time') {
    return fc.oneof(
      dateOf.map((d) => d.toISOString()),
      fc.tuple(dateOf, fc.constantFrom('+05:30', '-08:00', '+00:00')).map(([d, tz]) => d.toISOString().slice(0, 19) + tz),
    );
  }
  if (node.format === 'date') return dateOf.map((d) => d.toISOString().slice(0, 10));
  if (node.format !== undefined) throw new Error(`no arbitrary for format ${node.format}`);
  if (node.pattern === VERSION_PATTERN) return fc.tuple(fc.nat(99), fc.nat(99)).map(([a, b]) => `3.${a}.${b}`);
  if (node.pattern !== undefined && node.pattern !== TEXT_PATTERN) throw new Error(`no arbitrary for pattern ${node.pattern}`);
  return text(node.minLength ?? 0, node.maxLength ?? 200);
}

function number(node: Node, integer: boolean): fc.Arbitrary<number> {
  const min = node.minimum ?? -1e6;
  const max = node.maximum ?? 1e6;
  const edges = fc.constantFrom(min, max);
  return integer
    ? fc.oneof(edges, fc.integer({ min, max }))
    : fc.oneof(edges, fc.double({ min, max, noNaN: true }), fc.integer({ min: Math.ceil(min), max: Math.floor(max) }));
}

/** An arbitrary of values valid against `node` (a schema or sub-schema of the master prompt). */
export function arbitraryOf(input: Node): fc.Arbitrary<unknown> {
  const node = resolve(input);
  const unknownKeyword = Object.keys(node).find((k) => !UNDERSTOOD.has(k));
  if (unknownKeyword) throw new Error(`schema-arbitrary does not understand ${unknownKeyword}`);
  if (node.enum && node.type === undefined) return fc.constantFrom(...(node.enum as unknown[]));
  switch (node.type) {
    case 'object': {
      if (node.additionalProperties !== false) throw new Error('expected closed objects');
      const props = Object.fromEntries(Object.entries(node.properties as Record<string, Node>).map(([k, v]) => [k, arbitraryOf(v)]));
      // optional properties present or absent
      return fc.record(props, { requiredKeys: node.required ?? [] });
    }
    case 'array': {
      const item = arbitraryOf(node.items);
      const maxLength = node.maxItems ?? LONGEST_ARRAY;
      const lengths = { minLength: 0, maxLength: Math.min(maxLength, LONGEST_ARRAY) };
      const arrays = node.uniqueItems ? fc.uniqueArray(item, { ...lengths, selector: (v) => JSON.stringify(v) }) : fc.array(item, lengths);
      // small lists also at their exact limit
      if (maxLength > LONGEST_ARRAY || node.uniqueItems) return arrays;
      return fc.oneof({ weight: 4, arbitrary: arrays }, { weight: 1, arbitrary: fc.array(item, { minLength: maxLength, maxLength }) });
    }
    case 'string': return string(node);
    case 'integer': return number(node, true);
    case 'number': return number(node, false);
    case 'boolean': return fc.boolean();
    default: throw new Error(`no arbitrary for type ${JSON.stringify(node.type)}`);
  }
}

/** Valid master prompts, every section of the schema reachable. */
export const masterPromptArbitrary = arbitraryOf(root) as fc.Arbitrary<import('@swan/schema').MasterPrompt>;
