import { swanTsup } from '../../tsup.config.base.js';

// `@swan/outbox/pg-listen` and `@swan/outbox/nats` are their own entries: the main entry never
// imports `pg` or `nats`.
export default swanTsup({ entry: ['src/index.ts', 'src/pg-listen.ts', 'src/nats.ts'] });
