import { swanTsup } from '../../tsup.config.base.js';

// `@swan/pii/aws-kms` is its own entry: the main entry never imports the AWS SDK.
export default swanTsup({ entry: ['src/index.ts', 'src/aws-kms.ts'] });
