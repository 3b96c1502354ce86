import { swanTsup } from '../../tsup.config.base.js';

// `@swan/outbox/pg-listen` and `@swan/outbox/nats` are their own entries: the main entry never
// imports `pg` or `nats`. `nats.ts` imports the rest of the package as `@swan/outbox`, kept
// external so both entries share one copy (one `UnavailableError` class) at run time.
export default swanTsup({ entry: ['src/index.ts', 'src/pg-listen.ts', 'src/nats.ts'], external: ['@swan/outbox'] });
