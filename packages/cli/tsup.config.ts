import { swanTsup } from '../../tsup.config.base.js';

export default swanTsup();
