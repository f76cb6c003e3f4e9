/**
 * Runs after `tsc -b tsconfig.build.json` (`npm run build`). TypeScript 5.9's
 * `rewriteRelativeImportExtensions` leaves some dynamic imports as written — an
 * `import('./x.ts')` inside a call's arguments, as in `definePlugin({ agent: async () =>
 * (await import('./agent/service.ts')).service })` — and plain Node cannot load `.ts`.
 * This finds the import calls left with a relative `.ts`/`.mts`/`.cts` specifier in the
 * emitted JavaScript (parsed, so text in strings and templates is never touched) and
 * gives them the emitted file's extension.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const root = new URL('..', import.meta.url).pathname;
const { references } = ts.parseConfigFileTextToJson('tsconfig.build.json', readFileSync(join(root, 'tsconfig.build.json'), 'utf8')).config;
const outDirs = references.map(({ path }) => join(root, path, '..', 'dist'));
const relativeTs = /^\.\.?\/.*\.([mc]?)ts$/;

function* jsFiles(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* jsFiles(path);
    else if (/\.[mc]?js$/.test(entry.name)) yield path;
  }
}

let rewritten = 0;
for (const dir of outDirs) {
  for (const file of jsFiles(dir)) {
    const text = readFileSync(file, 'utf8');
    if (!/import\(\s*['"]\.\.?\//.test(text)) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
    const edits = [];
    const visit = (node) => {
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const [specifier] = node.arguments;
        if (specifier && ts.isStringLiteralLike(specifier) && relativeTs.test(specifier.text)) {
          const js = specifier.text.replace(/\.([mc]?)ts$/, (_, m) => `.${m}js`);
          edits.push({ start: specifier.getStart(source), end: specifier.end, text: JSON.stringify(js) });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    if (edits.length === 0) continue;
    let out = text;
    for (const edit of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
    writeFileSync(file, out);
    rewritten += edits.length;
  }
}
if (rewritten > 0) console.log(`rewrote ${rewritten} dynamic import${rewritten === 1 ? '' : 's'} of .ts files to .js`);
