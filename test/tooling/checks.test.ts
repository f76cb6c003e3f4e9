/**
 * The checks `npm test` runs before building — `npm run lint` (biome) and `npm run check:deps`
 * (scripts/check-deps.mjs) — fail on a planted violation: each runs, exactly as package.json
 * says, on a small repository made in a temporary folder, and must exit non-zero naming the
 * file and what is wrong; the same repository without the violation passes.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const scripts: Record<string, string> = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).scripts;
const biome = join(repo, 'node_modules/@biomejs/biome/bin/biome');

function tree(files: Record<string, string | object>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-checks-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
  }
  return dir;
}

function run(command: string, args: string[], cwd: string) {
  const result = spawnSync(process.execPath, [command, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** An `npm run <name>` script of the repo's package.json, run with biome from the repo's node_modules. */
function biomeScript(name: string, cwd: string) {
  const [tool, ...args] = scripts[name]!.split(' ');
  if (tool !== 'biome') throw new Error(`npm run ${name} is not a biome command: ${scripts[name]}`);
  return run(biome, [...args, '--colors=off'], cwd);
}

test('npm test runs the lint and the dependency check before the build', (t) => {
  t.regex(scripts.test!, /^npm run lint && npm run check:deps && npm run build\b/);
});

test('check:deps fails on an undeclared import, naming the file, the line and the package.json', (t) => {
  const dir = tree({
    'package.json': { name: 'fixture', private: true, workspaces: ['pkgs/*'], devDependencies: { 'root-tool': '1.0.0' } },
    'pkgs/a/package.json': { name: '@fx/a', dependencies: { declared: '1.0.0' }, peerDependencies: { '@fx/b': '*' }, devDependencies: { 'dev-only': '1.0.0' } },
    'pkgs/a/src/ok.ts': [
      "import { readFileSync } from 'node:fs';",
      "import path from 'path';",
      "import declared from 'declared/sub/path.js';",
      "import { b } from '@fx/b';",
      "import { local } from './local.ts';",
      "export const all = [readFileSync, path, declared, b, local, import('declared')];",
      '',
    ].join('\n'),
    'pkgs/a/src/local.ts': 'export const local = 1;\n',
    'pkgs/a/src/bad.ts': [
      "import type { Knex } from 'knex';",
      "import { x } from 'undeclared-runtime';",
      "export { y } from '@scope/undeclared-reexport/deep';",
      "const lazy = () => import('undeclared-dynamic');",
      "const old = require('undeclared-require');",
      "import { inner } from '../../b/src/inner.ts';",
      "import { viaName } from '@fx/b/src/inner.ts';",
      "import { dev } from 'dev-only';",
      '',
    ].join('\n'),
    'pkgs/a/test/a.test.ts': [
      "import { dev } from 'dev-only';",
      "import { tool } from 'root-tool';",
      "import { inner } from '../../b/src/inner.ts';",
      "import { nope } from 'undeclared-in-tests';",
      '',
    ].join('\n'),
    'pkgs/b/package.json': { name: '@fx/b' },
    'pkgs/b/src/inner.ts': 'export const inner = 1;\n',
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const { status, output } = run(join(repo, 'scripts/check-deps.mjs'), [dir], repo);
  t.is(status, 1, output);
  const problems = output.split('\n').filter((line) => line.startsWith('pkgs/'));
  t.deepEqual(
    problems.map((line) => line.split(': ')[0]),
    [
      'pkgs/a/src/bad.ts:1',
      'pkgs/a/src/bad.ts:2',
      'pkgs/a/src/bad.ts:3',
      'pkgs/a/src/bad.ts:4',
      'pkgs/a/src/bad.ts:5',
      'pkgs/a/src/bad.ts:6',
      'pkgs/a/src/bad.ts:7',
      'pkgs/a/src/bad.ts:8',
      'pkgs/a/test/a.test.ts:4',
    ],
    output,
  );
  t.regex(problems[0]!, /'knex' imports knex, which pkgs\/a\/package\.json does not declare in dependencies, peerDependencies or optionalDependencies/);
  t.regex(problems[2]!, /imports @scope\/undeclared-reexport,/);
  t.regex(problems[5]!, /'\.\.\/\.\.\/b\/src\/inner\.ts' reaches into @fx\/b's src\//);
  t.regex(problems[6]!, /'@fx\/b\/src\/inner\.ts' reaches into @fx\/b's src\//);
  t.regex(problems[7]!, /'dev-only' imports dev-only, which .* \(it is only a devDependency, which an installed package does not get\)/);
  t.regex(problems[8]!, /'undeclared-in-tests' imports undeclared-in-tests, which pkgs\/a\/package\.json does not declare .*devDependencies/);
  t.regex(output, /check-deps: 9 undeclared imports in 5 files/);

  rmSync(join(dir, 'pkgs/a/src/bad.ts'));
  writeFileSync(join(dir, 'pkgs/a/test/a.test.ts'), "import { dev } from 'dev-only';\nimport { tool } from 'root-tool';\n");
  const clean = run(join(repo, 'scripts/check-deps.mjs'), [dir], repo);
  t.is(clean.status, 0, clean.output);
  t.regex(clean.output, /check-deps: 4 files in 3 packages import only what they declare/);
});

test('check:deps passes on this repository', (t) => {
  const { status, output } = run(join(repo, 'scripts/check-deps.mjs'), [], repo);
  t.is(status, 0, output);
});

test('npm run lint fails on a planted violation, naming the file and the rule, and passes without it', (t) => {
  const dir = tree({
    'package.json': { name: 'fixture', private: true },
    'src/ok.ts': 'export function half(n: number): number {\n  return n / 2;\n}\n',
    'src/bad.ts': "import { readFileSync } from 'node:fs';\n\nexport function check(value: unknown): boolean {\n  debugger;\n  return value == 'yes';\n}\n",
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(repo, 'biome.jsonc'), join(dir, 'biome.jsonc'));
  t.is(spawnSync('git', ['init', '-q'], { cwd: dir }).status, 0, 'the config reads .gitignore through git');

  const planted = biomeScript('lint', dir);
  t.not(planted.status, 0, planted.output);
  t.regex(planted.output, /src\/bad\.ts:1:\d+ lint\/correctness\/noUnusedImports/);
  t.regex(planted.output, /src\/bad\.ts:4:\d+ lint\/suspicious\/noDebugger/);
  t.regex(planted.output, /src\/bad\.ts:5:\d+ lint\/suspicious\/noDoubleEquals/);
  t.notRegex(planted.output, /src\/ok\.ts/);

  rmSync(join(dir, 'src/bad.ts'));
  const clean = biomeScript('lint', dir);
  t.is(clean.status, 0, clean.output);
});

test('npm run format:check fails on a file not in the repository style', (t) => {
  const dir = tree({
    'package.json': { name: 'fixture', private: true },
    'src/styled.ts': "export const greeting = 'hello';\n",
    'src/unstyled.ts': 'export const greeting = "hello"\n',
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(repo, 'biome.jsonc'), join(dir, 'biome.jsonc'));
  t.is(spawnSync('git', ['init', '-q'], { cwd: dir }).status, 0);

  const planted = biomeScript('format:check', dir);
  t.not(planted.status, 0, planted.output);
  t.regex(planted.output, /src\/unstyled\.ts format/);
  t.notRegex(planted.output, /src\/styled\.ts format/);

  rmSync(join(dir, 'src/unstyled.ts'));
  const clean = biomeScript('format:check', dir);
  t.is(clean.status, 0, clean.output);
});
