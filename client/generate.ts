import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { documentText, schemaHeader } from './document.js';

/**
 * `npm run client`: writes client/openapi.json from the routes and generates client/schema.d.ts
 * from it with openapi-typescript. openapi-typescript drives TypeScript 5's compiler API, which the
 * project's TypeScript 7 (native) does not have, so it runs from its own install in
 * client/generator (made here on first use, from its lockfile); npm test and CI never need it.
 */
const here = dirname(fileURLToPath(import.meta.url));
const generator = join(here, 'generator');
if (!existsSync(join(generator, 'node_modules', 'openapi-typescript'))) {
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: generator, stdio: 'inherit' });
}
const document = documentText();
writeFileSync(join(here, 'openapi.json'), document);
execFileSync('npm', ['exec', '--', 'openapi-typescript', '../openapi.json', '--output', '../schema.d.ts'], { cwd: generator, stdio: 'inherit' });
const schema = join(here, 'schema.d.ts');
writeFileSync(schema, `${schemaHeader(document)}\n${readFileSync(schema, 'utf8')}`);
