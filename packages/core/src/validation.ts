import { errors } from './errors.js';

/** What {@link textProblem} and {@link checkText} accept. */
export interface TextRule {
  /** Longest accepted text, in UTF-16 code units (JavaScript's `length`). */
  max: number;
  /**
   * Allow line breaks and tabs (`\n`, `\r`, `\t`), for texts such as a consent text or a note.
   * Every other control character is refused either way. Default `false`.
   */
  multiline?: boolean;
}

// PostgreSQL text and jsonb can't hold NUL (22021 / 22P05), and a lone surrogate has no UTF-8
// encoding (the driver would silently store U+FFFD, jsonb refuses the escape): both are refused
// before any statement sees them. \p{Cs} with the u flag matches only unpaired surrogates.
const CONTROL = /\p{Cc}/u;
const CONTROL_EXCEPT_LINES = /[^\P{Cc}\t\n\r]/u;
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Why `value` is not acceptable text under `rule`, as the end of a sentence that starts with the
 * field's name ("must be a string", "must be at most 200 characters", …); `undefined` when it is.
 * The problem never quotes the value.
 *
 * @example
 * ```ts
 * textProblem('a\u0000b', { max: 10 }); // 'must not contain NUL or other control characters'
 * textProblem('fine', { max: 10 });     // undefined
 * ```
 */
export function textProblem(value: unknown, rule: TextRule): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length > rule.max) return `must be at most ${rule.max} characters`;
  if ((rule.multiline ? CONTROL_EXCEPT_LINES : CONTROL).test(value)) {
    return rule.multiline ? 'must not contain NUL or control characters other than line breaks and tabs' : 'must not contain NUL or other control characters';
  }
  if (LONE_SURROGATE.test(value)) return 'must not contain unpaired surrogates (invalid Unicode)';
  return undefined;
}

/**
 * The one text check every package runs on every text field and every query parameter that
 * reaches SQL: a string of at most `max` characters without NUL, other control characters
 * (line breaks and tabs allowed with `multiline`) or unpaired surrogates. Returns the text, or
 * `null` for an absent optional value (`undefined`, `null` or `''`); throws `VALIDATION_FAILED`
 * naming the field (never the value) otherwise.
 *
 * @example
 * ```ts
 * const reason = checkText(body.reason, 'reason', { max: 500, multiline: true });             // string | null
 * const summary = checkText(body.summary, 'summary', { max: 1000, required: true });          // string
 * const eventType = checkText(req.query.eventType, 'eventType', { max: 100 }) ?? undefined;  // a query parameter
 * ```
 */
export function checkText(value: unknown, field: string, rule: TextRule & { required: true }): string;
export function checkText(value: unknown, field: string, rule: TextRule & { required?: boolean }): string | null;
export function checkText(value: unknown, field: string, rule: TextRule & { required?: boolean }): string | null {
  if (value === undefined || value === null || value === '') {
    if (rule.required) throw errors.validation(`${field} is required`, { field });
    return null;
  }
  const problem = textProblem(value, rule);
  if (problem) throw errors.validation(`${field} ${problem}`, { field, max: rule.max });
  return value as string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The JSON-path-like location of the first key or string inside `value` (at any depth) that
 * PostgreSQL's jsonb can't store — one holding NUL or an unpaired surrogate — or `undefined`
 * when there is none. For JSON documents stored as they are (training data, event payloads).
 *
 * @example
 * ```ts
 * jsonTextProblem({ goals: ['ok', 'bad\u0000'] }, 'training'); // 'training.goals[1]'
 * ```
 */
export function jsonTextProblem(value: unknown, path = '$'): string | undefined {
  const bad = (s: string) => s.includes('\0') || LONE_SURROGATE.test(s);
  // Depth-first with an explicit stack, each node linked to its parent: a document nested 50,000
  // deep is walked in linear time and memory, and the path is spelled out only when found.
  interface Node { v: unknown; key: string | number | null; parent: Node | null }
  const where = (node: Node, suffix = ''): string => {
    const parts: string[] = [];
    for (let n: Node | null = node; n && n.key !== null; n = n.parent) parts.push(typeof n.key === 'number' ? `[${n.key}]` : `.${n.key}`);
    return path + parts.reverse().join('') + suffix;
  };
  const stack: Node[] = [{ v: value, key: null, parent: null }];
  while (stack.length) {
    const node = stack.pop()!;
    const v = node.v;
    if (typeof v === 'string') {
      if (bad(v)) return where(node);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], key: i, parent: node });
    } else if (isPlainObject(v)) {
      const entries = Object.entries(v);
      for (const [key] of entries) if (bad(key)) return where(node, ' (a key)');
      for (let i = entries.length - 1; i >= 0; i--) stack.push({ v: entries[i]![1], key: entries[i]![0], parent: node });
    }
  }
  return undefined;
}
