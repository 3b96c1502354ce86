import { swanTsup } from '../../tsup.config.base.js';

// `@swan/pii/aws-kms` is its own entry (the main entry never imports the AWS SDK); it imports the
// rest of the package as `@swan/pii`, kept external so both entries share one copy at run time.
export default swanTsup({ entry: ['src/index.ts', 'src/aws-kms.ts'], external: ['@swan/pii'] });
