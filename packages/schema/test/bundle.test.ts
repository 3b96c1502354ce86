import { describe, it, expect } from 'vitest';
import { browserValidatorSource } from '@swan/schema';
// The same build the package's generate script runs: the test cannot check other options than the ones shipped.
// @ts-expect-error -- plain ESM build script without type declarations
import { buildStandalone } from '../scripts/generate.mjs';
import { invalidCases, validPrompt } from './fixtures.js';

const LIMIT = 40_000;

describe('standalone validator bundle', () => {
  it('bundles for browsers under 40 kB minified (with headroom), with no eval, no new Function and no Ajv', async () => {
    const result = (await buildStandalone()) as { outputFiles: { text: string }[]; metafile: { inputs: Record<string, unknown> } };
    const code = result.outputFiles[0]!.text;
    expect(code.length).toBeLessThan(LIMIT);
    // headroom for schema growth: a new optional section must not be the change that breaks the limit
    expect(code.length).toBeLessThan(LIMIT * 0.85);
    expect(code).not.toMatch(/new Function|\beval\(|Function\(/);
    const inputs = Object.keys(result.metafile.inputs);
    // nothing from node_modules: the format functions are inlined from ajv-formats at generate time
    expect(inputs.filter((i) => i.includes('node_modules'))).toEqual([]);
    expect(code).toContain('[0,31,28,31,30,31,30,31,31,30,31,30,31]'); // … and they are in (ajv-formats' date, days per month)
    expect(browserValidatorSource).toBe(code); // the served module is this bundle
  });

  it('the served module validates like the server', async () => {
    const mod = await import(`data:text/javascript;base64,${Buffer.from(browserValidatorSource).toString('base64')}`);
    expect(mod.checkMasterPrompt(validPrompt()).ok).toBe(true);
    for (const c of invalidCases) expect(mod.checkMasterPrompt(c.document).code).toBe(c.code);
  });
});
