/**
 * The committed client/openapi.json and client/src/schema.ts are what the kernel serves today:
 * regenerated in memory and compared, so CI fails when a route's schema changed without
 * `npm run client:generate`.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { documentFile, generate, schemaFile } from '../scripts/generate.ts';

test('the generated OpenAPI document and types are current', async (t) => {
  const fresh = await generate();
  t.true(fresh.schema.includes(`"/v1/machines/{id}": {`), 'the generated types describe the machine routes');
  t.is(readFileSync(documentFile, 'utf8'), fresh.document, 'client/openapi.json is stale: run npm run client:generate');
  t.is(readFileSync(schemaFile, 'utf8'), fresh.schema, 'generated types are stale: run npm run client:generate');
});
