// Runs every bench/<name>/run.ts in sequence (each prints its ratio table). `pnpm bench [name…]`
import { readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
const only = process.argv.slice(2);
const dir = new URL('.', import.meta.url).pathname;
for (const name of readdirSync(dir).filter((d) => existsSync(`${dir}${d}/run.ts`))) {
  if (only.length && !only.includes(name)) continue;
  console.log(`\n=== bench/${name} ===`);
  const r = spawnSync('npx', ['tsx', `${dir}${name}/run.ts`], { stdio: 'inherit', cwd: dir });
  if (r.status !== 0) process.exitCode = 1;
}
