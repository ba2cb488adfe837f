// Runs `prisma generate` on install. The Prisma CLI insists on downloading its native
// schema engine first, which cannot work offline; generate itself only uses WebAssembly,
// so where no engine binary is installed we point the CLI at a stand-in file.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const enginesDir = dirname(require.resolve('@prisma/engines/package.json'));
  const installed = existsSync(enginesDir) && readdirSync(enginesDir).some((f) => f.startsWith('schema-engine'));
  if (!installed) env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;
}
const prisma = join(dirname(require.resolve('prisma/package.json')), 'build', 'index.js');
execFileSync(process.execPath, [prisma, 'generate'], { stdio: 'inherit', env });
