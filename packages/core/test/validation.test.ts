import { describe, expect, it } from 'vitest';
import { checkText, isSwanError, jsonTextProblem, textProblem } from '@swan/core';

describe('the one text check', () => {
  it('accepts ordinary text, astral characters (paired surrogates) and, when multiline, line breaks and tabs', () => {
    expect(textProblem('Zoë ✓ 💪 naïve', { max: 20 })).toBeUndefined();
    expect(textProblem('line one\nline two\ttab\r\n', { max: 100, multiline: true })).toBeUndefined();
    expect(checkText('  kept as given ', 'note', { max: 20 })).toBe('  kept as given ');
  });

  it('refuses NUL, other control characters, unpaired surrogates, overlong text and non-strings', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['a\u0000b', /NUL/],
      ['bell\u0007', /control/],
      ['esc\u001b[2J', /control/],
      ['c1\u0085', /control/],
      ['line\nbreak', /control/], // single-line text
      ['\ud800', /unpaired surrogates/],
      ['x\udfffy', /unpaired surrogates/],
      ['💪'.slice(0, 1), /unpaired surrogates/],
      ['x'.repeat(11), /at most 10 characters/],
      [42, /must be a string/],
      [{ toString: () => 'x' }, /must be a string/],
    ];
    for (const [value, problem] of cases) expect(textProblem(value, { max: 10 }), JSON.stringify(value)).toMatch(problem);
    expect(textProblem('tab\u0000', { max: 10, multiline: true })).toMatch(/NUL/);
  });

  it('raises VALIDATION_FAILED naming the field, never the value; absent optional text is null', () => {
    let thrown: unknown;
    try { checkText('secret\u0000name', 'fullText', { max: 100 }); } catch (e) { thrown = e; }
    expect(isSwanError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'fullText', max: 100 } });
    expect(String((thrown as Error).message)).not.toContain('secret');
    expect(JSON.stringify((thrown as { details: unknown }).details)).not.toContain('secret');
    for (const absent of [undefined, null, '']) expect(checkText(absent, 'reason', { max: 10 })).toBeNull();
    expect(() => checkText(undefined, 'reason', { max: 10, required: true })).toThrow(/reason is required/);
  });

  it('finds what jsonb can not store at any depth, keys included, without recursion', () => {
    expect(jsonTextProblem({ a: [1, 'ok', { b: 'fine' }] })).toBeUndefined();
    expect(jsonTextProblem({ a: [1, 'ok', { b: 'bad\u0000' }] }, 'training')).toBe('training.a[2].b');
    expect(jsonTextProblem({ ['k\ud800']: 1 })).toBe('$ (a key)');
    const depth = 100_000;
    const deep = JSON.parse(`${'['.repeat(depth)}"\\u0000"${']'.repeat(depth)}`);
    expect(jsonTextProblem(deep)).toMatch(/^\$(\[0\]){100000}$/);
    expect(jsonTextProblem(JSON.parse(`${'['.repeat(depth)}"ok"${']'.repeat(depth)}`))).toBeUndefined();
  });
});
