import { swanTsup } from '../../tsup.config.base.js';

// src/index.ts is the library (ESM + CJS); src/cli.ts is the `swan` bin (dist/cli.js, ESM, with its shebang).
export default swanTsup({ entry: ['src/index.ts', 'src/cli.ts'] });
