import { swanTsup } from '../../tsup.config.base.js';

export default swanTsup({ entry: ['src/main.ts'], format: ['esm'], dts: false });
