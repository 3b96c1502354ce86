import { swanTsup } from '../../tsup.config.base.js';

// dist/main.js: the server; dist/handlers.js: its outbox handlers for `swan outbox work --handlers`.
export default swanTsup({ entry: ['src/main.ts', 'src/handlers.ts'], format: ['esm'], dts: false });
