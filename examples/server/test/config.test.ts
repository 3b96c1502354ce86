import { describe, expect, it } from 'vitest';
import type { SwanError } from '@swan/core';
import { DEVELOPMENT_JWT_SECRET, loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';

describe('loadConfig', () => {
  it('runs with nothing set: port 3000, express, PGlite in .data/, in-memory limits, workers on, development secret', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      framework: 'express',
      dataDir: '.data/',
      development: true,
      publicUrl: 'http://localhost:3000',
      jwtSecret: DEVELOPMENT_JWT_SECRET,
      jwtSecretIsDevelopment: true,
      runWorkers: true,
    });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.redisUrl).toBeUndefined();
    expect(c.natsUrl).toBeUndefined();
  });

  it('reads the variables of API.md', () => {
    const c = loadConfig({
      PORT: '8080',
      SWAN_FRAMEWORK: 'fastify',
      DATABASE_URL: 'postgres://owner@db/app',
      DATABASE_APP_URL: 'postgres://swan_app:pw@db/app',
      DATA_DIR: '/var/swan',
      REDIS_URL: 'redis://r:6379',
      NATS_URL: 'nats://n:4222',
      AUTH_JWT_SECRET: 's3cret',
      PUBLIC_URL: 'https://swan.example/',
      RUN_WORKERS: 'false',
      METRICS_PORT: '9464',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      ALERT_WEBHOOK_URL: 'https://hooks.example/swan',
      NODE_ENV: 'production',
      SWAN_MASTER_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
      SWAN_INDEX_KEY: Buffer.alloc(32, 2).toString('base64'),
    });
    expect(c).toMatchObject({
      port: 8080,
      framework: 'fastify',
      databaseUrl: 'postgres://owner@db/app',
      databaseAppUrl: 'postgres://swan_app:pw@db/app',
      dataDir: '/var/swan',
      redisUrl: 'redis://r:6379',
      natsUrl: 'nats://n:4222',
      jwtSecret: 's3cret',
      jwtSecretIsDevelopment: false,
      publicUrl: 'https://swan.example',
      runWorkers: false,
      development: false,
      metricsPort: 9464,
      otlpEndpoint: 'http://collector:4318',
      alertWebhookUrl: 'https://hooks.example/swan',
    });
  });

  it('lets --framework override SWAN_FRAMEWORK', () => {
    expect(loadConfig({ SWAN_FRAMEWORK: 'express' }, ['--framework', 'fastify']).framework).toBe('fastify');
    expect(loadConfig({ SWAN_FRAMEWORK: 'fastify' }, ['--framework=express']).framework).toBe('express');
  });

  it('refuses to start in production naming every missing variable, and on bad values', () => {
    const key = Buffer.alloc(32, 3).toString('base64');
    const variablesOf = (env: Record<string, string | undefined>): string[] => {
      try {
        loadConfig({ NODE_ENV: 'production', ...env });
        return [];
      } catch (error) {
        expect((error as SwanError).code).toBe('CONFIG_INVALID');
        return ((error as SwanError).details as { variables: string[] }).variables;
      }
    };
    expect(variablesOf({})).toEqual(['SWAN_MASTER_KEYS', 'SWAN_INDEX_KEY', 'AUTH_JWT_SECRET', 'PUBLIC_URL']);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/SWAN_MASTER_KEYS .*; SWAN_INDEX_KEY .*; AUTH_JWT_SECRET is unset; PUBLIC_URL is unset/);
    const good = { AUTH_JWT_SECRET: 's3cret', PUBLIC_URL: 'https://swan.example', SWAN_INDEX_KEY: key };
    for (const keys of [{}, { SWAN_MASTER_KEYS: `k1:${key}` }, { SWAN_INDEX_KEY: key }, { SWAN_KMS_KEY_ID: 'alias/swan' }] as Array<Record<string, string>>) {
      const env = { AUTH_JWT_SECRET: 's3cret', PUBLIC_URL: 'https://swan.example', ...keys };
      expect(variablesOf(env).length, JSON.stringify(keys)).toBeGreaterThan(0);
    }
    expect(variablesOf({ ...good, SWAN_KMS_KEY_ID: 'alias/swan', AUTH_JWT_SECRET: DEVELOPMENT_JWT_SECRET })).toEqual(['AUTH_JWT_SECRET']);
    expect(() => loadConfig({ NODE_ENV: 'production', ...good, SWAN_KMS_KEY_ID: 'alias/swan', AUTH_JWT_SECRET: DEVELOPMENT_JWT_SECRET })).toThrow(/AUTH_JWT_SECRET is the public development secret/);
    expect(variablesOf({ ...good, SWAN_KMS_KEY_ID: 'alias/swan', PUBLIC_URL: 'swan.example' })).toEqual(['PUBLIC_URL']);
    // Stripe configured: every link, price and the webhook secret; test-mode keys and links are fine
    const stripe = { ...good, SWAN_MASTER_KEYS: `k1:${key}`, STRIPE_SECRET_KEY: 'sk_test_123', STRIPE_PAYMENT_LINK_TIER_2: 'https://buy.stripe.com/test_2', STRIPE_PRICE_TIER_2: 'price_2' };
    expect(variablesOf(stripe)).toEqual(['STRIPE_WEBHOOK_SECRET', 'STRIPE_PAYMENT_LINK_TIER_1', 'STRIPE_PRICE_TIER_1', 'STRIPE_PAYMENT_LINK_TIER_3', 'STRIPE_PRICE_TIER_3']);
    const links = Object.fromEntries([1, 2, 3].flatMap((n) => [[`STRIPE_PAYMENT_LINK_TIER_${n}`, `https://buy.stripe.com/test_${n}`], [`STRIPE_PRICE_TIER_${n}`, `price_${n}`]]));
    expect(variablesOf({ ...stripe, ...links, STRIPE_WEBHOOK_SECRET: 'whsec_test' })).toEqual([]);
    expect(loadConfig({ NODE_ENV: 'production', ...good, SWAN_KMS_KEY_ID: 'alias/swan' }).development).toBe(false);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
    expect(() => loadConfig({ ALERT_WEBHOOK_URL: 'ftp://x' })).toThrow(/ALERT_WEBHOOK_URL/);
    expect(() => loadConfig({ SWAN_FRAMEWORK: 'koa' })).toThrow(/express or fastify/);
    expect(() => loadConfig({ RUN_WORKERS: 'maybe' })).toThrow(/RUN_WORKERS/);
    expect(() => loadConfig({}, ['--frameworks', 'fastify'])).toThrow();
  });

  it('reads TRUST_PROXY: off by default, true, a hop count or a list of addresses and ranges', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8, 192.0.2.1' }).trustProxy).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8', '192.0.2.1']);
    for (const bad of ['yes please', '10.0.0.0/33', '300.1.1.1', 'loopback,,nope', ',']) {
      expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(/TRUST_PROXY/);
    }
  });
});

describe('createLogger', () => {
  it('writes one JSON object per line and never secrets, PII fields or URL passwords', () => {
    const lines: string[] = [];
    const logger = createLogger((line) => lines.push(line));
    logger.info('connecting to postgres://owner:hunter2@db/app', {
      database: { url: 'postgres://owner:hunter2@db/app', user: 'owner' },
      authorization: 'Bearer abc.def.ghi',
      AUTH_JWT_SECRET: 'topsecret',
      email: 'dana@example.org',
      error: Object.assign(new Error('failed for postgres://u:pw2@h/d'), { code: 'E1' }),
      port: 3000,
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const entry = JSON.parse(lines[0]!);
    expect(entry).toMatchObject({ level: 'info', port: 3000, database: { user: 'owner' }, error: { name: 'Error', code: 'E1' } });
    expect(lines[0]).not.toMatch(/hunter2|abc\.def|topsecret|dana@|pw2/);
  });
});
