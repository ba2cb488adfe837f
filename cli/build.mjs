// `npm start` runs the CLI compiled to one bundle (dist/cli) rather than through tsx: less resident
// memory (README "Operations → Memory"). Two directories deep, as the sources are, so paths
// relative to a module (core/db/migrate.ts's prisma/migrations) hold in the bundle too.
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const outdir = fileURLToPath(new URL('../dist/cli/', import.meta.url));
const { outputFiles } = await build({
  entryPoints: [fileURLToPath(new URL('creditkeeper.ts', import.meta.url))],
  outdir,
  bundle: true,
  // Each chat platform's library is imported when its token is set (bot/startChat.ts): its own chunk.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
  write: false,
});
// Each file replaced whole (a process starting meanwhile reads the old or the new one), then what
// an earlier build left removed: chunk names carry a hash, and would pile up.
mkdirSync(outdir, { recursive: true });
for (const file of outputFiles) {
  writeFileSync(`${file.path}.${process.pid}`, file.contents);
  renameSync(`${file.path}.${process.pid}`, file.path);
}
const built = new Set(outputFiles.map((file) => basename(file.path)));
for (const name of readdirSync(outdir)) if (!built.has(name) && !/\.\d+$/.test(name)) rmSync(join(outdir, name));
