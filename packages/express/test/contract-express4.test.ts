import { createRequire } from 'node:module';
import express from 'express';
import express4 from 'express4';
import { expect, it, vi } from 'vitest';
import { runExpressSuites } from './harness.js';

// `express4` is the devDependency alias `npm:express@^4.21.2`: every `import … from 'express'` of
// this file's module graph (the adapter's included) loads the real Express 4 instead of 5.
vi.mock('express', async () => await import('express4'));

it('runs on Express 4, in the adapter too', () => {
  const version = (createRequire(import.meta.url)('express4/package.json') as { version: string }).version;
  expect(version).toMatch(/^4\.(2[1-9]|[3-9]\d)\./);
  expect(express).toBe(express4);
});

runExpressSuites('express 4');
