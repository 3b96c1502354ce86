import { copyFileSync } from 'node:fs';
import { swanTsup } from '../../tsup.config.base.js';

// `@swan/schema/standalone`: the precompiled validator (no Ajv at run time) as its own entry.
// ajv-formats' format functions are bundled into it, so it imports nothing but itself.
export default swanTsup({
  entry: ['src/index.ts', 'src/standalone.ts'],
  noExternal: [/^ajv-formats\/dist\/formats/],
  onSuccess: async () => {
    copyFileSync('../../schemas/client-master-prompt-v3.schema.json', 'dist/client-master-prompt-v3.schema.json');
  },
});
