// `npm start` runs the CLI compiled to one bundle (dist/cli) rather than through tsx: ~55 MB less
// resident (README "Operations → Memory"). Two directories deep, as the sources are, so paths
// relative to a module (core/db/migrate.ts's prisma/migrations) hold in the bundle too.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const outdir = new URL('../dist/cli/', import.meta.url);
// Chunk names carry a hash: what an earlier build left would pile up.
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [new URL('creditkeeper.ts', import.meta.url).pathname],
  outdir: outdir.pathname,
  bundle: true,
  // Each chat platform's library is imported when its token is set (bot/startChat.ts): its own chunk.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
