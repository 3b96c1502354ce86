import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { browserValidatorSource } from '@swan/schema';
import { invalidCases, validPrompt } from './fixtures.js';

const entry = fileURLToPath(new URL('../src/standalone.ts', import.meta.url));

describe('standalone validator bundle', () => {
  it('bundles for browsers under 40 kB minified, with no eval, no new Function and no Ajv', async () => {
    const result = await esbuild.build({
      entryPoints: [entry], bundle: true, minify: true, format: 'esm', platform: 'browser', write: false, metafile: true, logLevel: 'silent',
    });
    const code = result.outputFiles[0]!.text;
    expect(code.length).toBeLessThan(40_000);
    expect(code).not.toMatch(/new Function|\beval\(/);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((i) => /node_modules\/ajv\//.test(i))).toEqual([]);
    expect(inputs.some((i) => i.includes('ajv-formats/dist/formats.js'))).toBe(true); // the format functions are in
    expect(browserValidatorSource).toBe(code); // the served module is this bundle
  });

  it('the served module validates like the server', async () => {
    const mod = await import(`data:text/javascript;base64,${Buffer.from(browserValidatorSource).toString('base64')}`);
    expect(mod.checkMasterPrompt(validPrompt()).ok).toBe(true);
    for (const c of invalidCases) expect(mod.checkMasterPrompt(c.document).code).toBe(c.code);
  });
});
