import { createRequire } from 'node:module';
import express from 'express';
import { expect, it } from 'vitest';
import { runExpressSuites } from './harness.js';

it('runs on Express 5', () => {
  const version = (createRequire(import.meta.url)('express/package.json') as { version: string }).version;
  expect(version).toMatch(/^5\./);
  expect(typeof express.Router).toBe('function');
});

runExpressSuites('express 5');
