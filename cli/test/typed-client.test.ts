/**
 * The builtin CLI reaches the API only through the typed client (`api().typed`, checked
 * against the OpenAPI document), so a change to a route's parameters or answer breaks
 * `npm run typecheck` instead of a command at run time. The untyped `get/post/patch/
 * delete/request` of ApiClient stay for plugins' commands (their routes are not in the
 * document); the plugin template, which writes such a command, is the one exception.
 */
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../src', import.meta.url));
const pluginTemplate = join(src, 'plugins', 'plugin-templates.ts');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** A call of ApiClient's untyped methods: `.get<T>('v1/…')`, `api.post(\`v1/…\`)`, `.request('POST', …)`. */
const untyped = /\.(get|post|patch|delete)\s*(<[^()]*>)?\s*\(\s*['"`]\/?v1\/|\.request\s*(<[^()]*>)?\s*\(\s*['"`](GET|POST|PUT|PATCH|DELETE)['"`]/;

test('the builtin CLI calls no untyped API method: every request goes through api().typed', (t) => {
  const files = sources(src).filter((f) => f !== pluginTemplate);
  t.true(files.length > 50, `found only ${files.length} sources under ${src}`);
  const offenders = files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, i) => (untyped.test(line) ? [`${relative(src, file)}:${i + 1}: ${line.trim()}`] : [])),
  );
  t.deepEqual(offenders, []);
});

test('the pattern finds the untyped calls it is meant to find', (t) => {
  for (const call of [
    "await this.api().get<{ items: Network[] }>('v1/networks', { site })",
    'api.post<Workflow>(`v1/machines/${m}/deploy`, body)',
    "this.api().request<R>('POST', 'v1/machines/import', body)",
    "api.delete('/v1/tokens/x')",
  ]) {
    t.true(untyped.test(call), call);
  }
  for (const call of ["ok(api.typed.GET('/v1/networks', { params: { query: { site } } }))", "new Map().get('v1/x')".replace('v1', 'key')])
    t.false(untyped.test(call), call);
  // And it finds the plugin template's call, which is why that file is excluded.
  t.true(
    readFileSync(pluginTemplate, 'utf8')
      .split('\n')
      .some((line) => untyped.test(line)),
  );
});
