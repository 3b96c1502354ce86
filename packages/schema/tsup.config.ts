import { copyFileSync } from 'node:fs';
import { swanTsup } from '../../tsup.config.base.js';

// `@swan/schema/standalone`: the precompiled validator (no Ajv at run time) as its own entry.
// The format functions it needs are inlined by scripts/generate.mjs, so it imports nothing but itself.
export default swanTsup({
  entry: ['src/index.ts', 'src/standalone.ts'],
  onSuccess: async () => {
    copyFileSync('../../schemas/client-master-prompt-v3.schema.json', 'dist/client-master-prompt-v3.schema.json');
  },
});
