// one-off scaffolding helper (kept for adding packages later): node scripts/new-packages.mjs
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
const pkgs = {
  core: { desc: 'Database factory, migrator, actor context, hash-chained audit log, typed errors and the framework-free route type of the Swan SDK', deps: { kysely: '^0.28.8', pg: '^8.16.3', '@electric-sql/pglite': '^0.3.7', 'kysely-pglite': '^0.6.1' }, dev: { '@types/pg': '^8.15.5' } },
  pii: { desc: 'Encrypted PII kept apart from training data: envelope encryption, blind indexes, row-level security, audited access, erasure and export', deps: { '@swan/core': 'workspace:^', kysely: '^0.28.8', '@aws-sdk/client-kms': '^3.700.0' } },
  consent: { desc: 'Versioned consent ledger with proof, expiry, re-consent and a route guard', deps: { '@swan/core': 'workspace:^', kysely: '^0.28.8' } },
  schema: { desc: 'Client master prompt v3 JSON Schema with Ajv validators for server and browser', deps: { '@swan/core': 'workspace:^', kysely: '^0.28.8', ajv: '^8.17.1', 'ajv-formats': '^3.0.1' } },
  outbox: { desc: 'Transactional outbox with SKIP LOCKED workers, leases, retries, dead letters and a NATS JetStream relay', deps: { '@swan/core': 'workspace:^', kysely: '^0.28.8', nats: '^2.29.3' } },
  billing: { desc: 'Stripe Payment Links, verified idempotent webhooks, subscription sync, Customer Portal and entitlements', deps: { '@swan/core': 'workspace:^', kysely: '^0.28.8', stripe: '^19.0.0' } },
  ratelimit: { desc: 'Named rate-limit policies over Redis with standard headers, outage safety and violator alerts', deps: { '@swan/core': 'workspace:^', ioredis: '^5.8.0', 'rate-limiter-flexible': '^7.4.0' } },
  checkins: { desc: 'Twilio SMS check-ins driven by outbox events, verified inbound replies and opt-out', deps: { '@swan/core': 'workspace:^', kysely: '^0.28.8', twilio: '^5.10.0' } },
  express: { desc: 'Express 5 adapter for Swan SDK routes and guards', deps: { '@swan/core': 'workspace:^' }, peer: { express: '^5.0.0' }, dev: { express: '^5.1.0', '@types/express': '^5.0.3' } },
  fastify: { desc: 'Fastify 5 adapter for Swan SDK routes and guards', deps: { '@swan/core': 'workspace:^' }, peer: { fastify: '^5.0.0' }, dev: { fastify: '^5.6.0' } },
  cli: { desc: 'The swan command: migrations, outbox, key rotation, audit verification and exports', deps: { '@swan/core': 'workspace:^' }, bin: { swan: './dist/cli.js' } },
  'test-utils': { desc: 'Private test fixtures: databases per engine and HTTP contract suites', private: true, deps: { '@swan/core': 'workspace:^', kysely: '^0.28.8', pg: '^8.16.3' } },
};
for (const [name, p] of Object.entries(pkgs)) {
  const dir = `packages/${name}`;
  mkdirSync(`${dir}/src`, { recursive: true });
  mkdirSync(`${dir}/test`, { recursive: true });
  const json = {
    name: `@swan/${name}`,
    version: '0.0.0',
    description: p.desc,
    license: 'MIT',
    ...(p.private ? { private: true } : {}),
    type: 'module',
    engines: { node: '>=20.19.0' },
    sideEffects: false,
    ...(p.private ? { main: './src/index.ts', types: './src/index.ts' } : {
      main: './dist/index.cjs',
      module: './dist/index.js',
      types: './dist/index.d.ts',
      exports: {
        '.': {
          import: { types: './dist/index.d.ts', default: './dist/index.js' },
          require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
        },
        './package.json': './package.json',
      },
      files: ['dist'],
    }),
    ...(p.bin ? { bin: p.bin } : {}),
    scripts: p.private ? {} : {
      build: 'tsup',
      'lint:package': 'publint --strict && attw --pack . --profile node16',
    },
    dependencies: p.deps,
    ...(p.peer ? { peerDependencies: p.peer } : {}),
    ...(p.dev ? { devDependencies: p.dev } : {}),
    ...(p.private ? {} : { publishConfig: { access: 'public' } }),
    repository: { type: 'git', url: 'git+https://example.invalid/swan-sdk.git', directory: dir },
  };
  writeFileSync(`${dir}/package.json`, JSON.stringify(json, null, 2) + '\n');
  if (!p.private) {
    writeFileSync(`${dir}/tsup.config.ts`, `import { swanTsup } from '../../tsup.config.base.js';\n\nexport default swanTsup();\n`);
  }
  writeFileSync(`${dir}/tsconfig.json`, JSON.stringify({ extends: '../../tsconfig.base.json', include: ['src'] }, null, 2) + '\n');
  if (!existsSync(`${dir}/src/index.ts`)) writeFileSync(`${dir}/src/index.ts`, `export {};\n`);
}
