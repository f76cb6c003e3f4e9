/**
 * `npm run check:deps`: every package imports only what it declares.
 *
 * For each package of the repo (the root's workspaces, plus any `file:` package the root
 * depends on, e.g. registry/) every import is parsed with TypeScript's parser — static
 * imports and re-exports (type-only too), `import x = require()`, and `import()`,
 * `require()`, `require.resolve()`, `import.meta.resolve()` and `import('x')` types with a
 * literal specifier — and must resolve to:
 *   - a Node builtin;
 *   - a relative file inside the same package (in non-test code; tests may reach the repo's
 *     shared test helpers), never another package's `src/`;
 *   - the package itself, or a package named in its dependencies, peerDependencies or
 *     optionalDependencies; test and tool code (test/, scripts/, *.test.ts) may also use its
 *     devDependencies and the root's dependencies and devDependencies.
 * A bare specifier into another package's `src/` (`@sprout/x/src/…`) is refused outside tests.
 * The root's own files (test/, scripts/) may use the root's (dev)dependencies and every
 * workspace package. The root migrations/ folder holds the kernel's migrations (the kernel
 * loads them), so it is checked against @sprout/kernel's declarations.
 *
 * Usage: node scripts/check-deps.mjs [repo-root]   (exit 1 and one line per problem)
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const root = resolve(process.argv[2] ?? new URL('..', import.meta.url).pathname);
const sourceFile = /\.(?:[mc]?[jt]s|tsx|jsx)$/;
const declarationFile = /\.d\.[mc]?ts$/;
const devDirs = new Set(['test', 'tests', 'scripts']);

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const rootManifest = readJson(join(root, 'package.json'));
const names = (manifest, ...fields) => new Set(fields.flatMap((field) => Object.keys(manifest[field] ?? {})));

/** Workspace globs are `dir` or `dir/*`, which is all this repo uses. */
function workspaceDirs() {
  const dirs = [];
  for (const pattern of rootManifest.workspaces ?? []) {
    if (pattern.endsWith('/*')) {
      const parent = join(root, pattern.slice(0, -2));
      for (const entry of existsSync(parent) ? readdirSync(parent, { withFileTypes: true }) : []) {
        if (entry.isDirectory() && existsSync(join(parent, entry.name, 'package.json'))) dirs.push(join(parent, entry.name));
      }
    } else if (existsSync(join(root, pattern, 'package.json'))) dirs.push(join(root, pattern));
  }
  for (const spec of Object.values({ ...rootManifest.dependencies, ...rootManifest.devDependencies })) {
    if (typeof spec === 'string' && spec.startsWith('file:')) {
      const dir = join(root, spec.slice('file:'.length));
      if (existsSync(join(dir, 'package.json')) && !dirs.includes(dir)) dirs.push(dir);
    }
  }
  return dirs;
}

const packages = workspaceDirs().map((dir) => {
  const manifest = readJson(join(dir, 'package.json'));
  return { dir, name: manifest.name, manifest };
});
const workspaceNames = new Set(packages.map((p) => p.name));
const rootDev = names(rootManifest, 'dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies');

/** Files of one package: skips node_modules, dist and nested packages (test fixtures with a package.json). */
function* files(dir, top = dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
      if (existsSync(join(path, 'package.json'))) continue;
      if (dir === top && packages.some((p) => p.dir === path)) continue;
      yield* files(path, top);
    } else if (sourceFile.test(entry.name) && !declarationFile.test(entry.name)) yield path;
  }
}

/** Every module specifier `file` names, with its line and whether only types are imported. */
function imports(file) {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found = [];
  const add = (node, typeOnly) => {
    if (node && ts.isStringLiteralLike(node)) {
      found.push({ specifier: node.text, typeOnly, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
    }
  };
  const visit = (node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly =
        !!clause &&
        (clause.isTypeOnly ||
          (!clause.name &&
            !!clause.namedBindings &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    } else if (ts.isCallExpression(node) && node.arguments.length > 0) {
      const callee = node.expression;
      const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === 'require';
      const isResolve =
        ts.isPropertyAccessExpression(callee) &&
        callee.name.text === 'resolve' &&
        ((ts.isIdentifier(callee.expression) && callee.expression.text === 'require') ||
          (ts.isMetaProperty(callee.expression) && callee.expression.name.text === 'meta'));
      if (isImport || isRequire || isResolve) add(node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const packageName = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');
const typesName = (name) => `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`;
const inside = (dir, path) => path === dir || path.startsWith(dir + sep);
const ownerOf = (path) => packages.filter((p) => inside(p.dir, path)).sort((a, b) => b.dir.length - a.dir.length)[0];
const isDevFile = (pkgDir, file) => devDirs.has(relative(pkgDir, file).split(sep)[0]) || /\.test\.[mc]?[jt]sx?$/.test(file);

const problems = [];
let checked = 0;

function check(file, pkg, { dev, allowed, allowRelativeOutside }) {
  checked++;
  const where = relative(root, file);
  for (const { specifier, typeOnly, line } of imports(file)) {
    const at = `${where}:${line}`;
    if (specifier.startsWith('#') || specifier.startsWith('data:')) continue;
    if (specifier.startsWith('.') || specifier.startsWith('/')) {
      const target = resolve(dirname(file), specifier);
      const owner = ownerOf(target);
      if (!dev && owner && owner !== pkg && inside(join(owner.dir, 'src'), target)) {
        problems.push(`${at}: '${specifier}' reaches into ${owner.name}'s src/: import it by its package name and a documented export`);
      } else if (!inside(pkg.dir, target) && !(allowRelativeOutside && inside(root, target))) {
        problems.push(
          `${at}: '${specifier}' is outside ${pkg.name ?? 'the package'} (${relative(root, pkg.dir) || '.'}/): import it by a declared package name`,
        );
      }
      continue;
    }
    if (isBuiltin(specifier)) continue;
    const name = packageName(specifier);
    if (!dev && workspaceNames.has(name) && name !== pkg.name && /^[^/]+(?:\/[^/]+)?\/src(?:\/|$)/.test(specifier.replace(/^@[^/]+\//, '@x/'))) {
      problems.push(`${at}: '${specifier}' reaches into ${name}'s src/: use a documented export of ${name}`);
      continue;
    }
    if (name === pkg.name || allowed.has(name) || (typeOnly && allowed.has(typesName(name)))) continue;
    const fields = dev
      ? 'dependencies, peerDependencies, optionalDependencies or devDependencies (or the root devDependencies)'
      : 'dependencies, peerDependencies or optionalDependencies';
    const devOnly = !dev && pkg.manifest.devDependencies?.[name] ? ' (it is only a devDependency, which an installed package does not get)' : '';
    problems.push(`${at}: '${specifier}' imports ${name}, which ${relative(root, join(pkg.dir, 'package.json'))} does not declare in ${fields}${devOnly}`);
  }
}

for (const pkg of packages) {
  const runtime = names(pkg.manifest, 'dependencies', 'peerDependencies', 'optionalDependencies');
  const devAllowed = new Set([...runtime, ...names(pkg.manifest, 'devDependencies'), ...rootDev]);
  for (const file of files(pkg.dir)) {
    const dev = isDevFile(pkg.dir, file);
    check(file, pkg, { dev, allowed: dev ? devAllowed : runtime, allowRelativeOutside: dev });
  }
}

// The root package: its tests and tools, and the kernel's migrations kept at the root.
const rootPkg = { dir: root, name: rootManifest.name, manifest: rootManifest };
const kernel = packages.find((p) => p.name === '@sprout/kernel');
for (const entry of readdirSync(root, { withFileTypes: true })) {
  if (!entry.isDirectory() || entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
  const dir = join(root, entry.name);
  if (packages.some((p) => inside(dir, p.dir) || inside(p.dir, dir))) continue;
  for (const file of files(dir)) {
    if (entry.name === 'migrations' && kernel) {
      check(
        file,
        { ...kernel, dir },
        { dev: false, allowed: names(kernel.manifest, 'dependencies', 'peerDependencies', 'optionalDependencies'), allowRelativeOutside: false },
      );
    } else {
      check(file, rootPkg, { dev: true, allowed: new Set([...rootDev, ...workspaceNames]), allowRelativeOutside: true });
    }
  }
}
for (const entry of readdirSync(root, { withFileTypes: true })) {
  if (entry.isFile() && sourceFile.test(entry.name) && statSync(join(root, entry.name)).size > 0) {
    check(join(root, entry.name), rootPkg, { dev: true, allowed: new Set([...rootDev, ...workspaceNames]), allowRelativeOutside: true });
  }
}

if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  console.error(`check-deps: ${problems.length} undeclared import${problems.length === 1 ? '' : 's'} in ${checked} files`);
  process.exit(1);
}
console.log(`check-deps: ${checked} files in ${packages.length + 1} packages import only what they declare`);
