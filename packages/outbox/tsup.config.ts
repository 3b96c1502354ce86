import { swanTsup } from '../../tsup.config.base.js';

// `@swan/outbox/pg-listen` is its own entry: the main entry never imports `pg`.
export default swanTsup({ entry: ['src/index.ts', 'src/pg-listen.ts'] });
