/**
 * Generates @sprout/client's types from the control plane's OpenAPI document: boots a kernel
 * in-process on an in-memory PGlite (default config, no listener), takes `app.swagger()`,
 * runs openapi-typescript. `npm run client:generate` writes client/openapi.json and
 * client/src/schema.ts; client/test/schema-fresh.test.ts fails when they are stale.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import { Kernel, loadConfig, packagesIn } from '@sprout/kernel';

export const clientDir = fileURLToPath(new URL('..', import.meta.url));
export const documentFile = join(clientDir, 'openapi.json');
export const schemaFile = join(clientDir, 'src', 'schema.ts');

/** The document a default control plane serves at GET /openapi.json. */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-client-generate-'));
  try {
    const { config } = loadConfig({
      env: { SPROUT_DATA_DIR: dataDir, SPROUT_LOG_LEVEL: 'silent', SPROUT_ADMIN_TOKEN: `sprout_generate_${randomBytes(16).toString('hex')}` },
    });
    const kernel = await Kernel.boot({
      config,
      builtinPlugins: packagesIn(fileURLToPath(new URL('../../plugins', import.meta.url))),
      logger: pino({ level: 'silent' }),
      background: false,
      store: { inMemory: true },
    });
    try {
      await kernel.app!.ready();
      return JSON.parse(JSON.stringify(kernel.app!.swagger())) as Record<string, unknown>;
    } finally {
      await kernel.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Both generated files' contents, from the document. */
export async function generate(): Promise<{ document: string; schema: string }> {
  const document = await openApiDocument();
  const ast = await openapiTS(document as any, { alphabetize: true });
  const header = `${COMMENT_HEADER}// Generated from Sprout's OpenAPI document by \`npm run client:generate\`: edit the routes' schemas in kernel/src, not this file.\n\n`;
  return { document: `${JSON.stringify(document, null, 2)}\n`, schema: header + astToString(ast) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { document, schema } = await generate();
  writeFileSync(documentFile, document);
  writeFileSync(schemaFile, schema);
  console.log(`wrote ${documentFile} and ${schemaFile}`);
}
