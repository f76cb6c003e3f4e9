#!/usr/bin/env node
/**
 * Each package stands on its own: `npm pack`s the kernel, one builtin plugin
 * (ipam-builtin) and one stub (kea-stub), plus the @sprout packages they depend on
 * (@sprout/client), installs the tarballs into an empty project with nothing but their
 * declared dependencies (from the npm registry, the local cache first) and ava + tsx to
 * run tests with, and runs each package's own tests there, against the installed package
 * (compiled dist/, no `sprout-source` condition, nothing from this repository).
 *
 *   node scripts/packed-test.mjs [--keep] [--no-build]
 *
 * The tests listed below import what they test by package name only; a listed test that
 * reaches outside its package's test/ folder is refused (it would test the repository,
 * not the package). Run by test/packaging/packed.test.ts; exits non-zero on any failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const keep = process.argv.includes('--keep');
const build = !process.argv.includes('--no-build');

/** Packages under test and the test files of each that run against the installed package. */
export const packages = [
  {
    dir: 'kernel',
    tests: ['config.test.ts', 'plugin-host.test.ts', 'plugins-share-kernel.test.ts', 'plugins-validate-package.test.ts', 'tls-config.test.ts'],
    support: ['fixtures'],
  },
  { dir: 'plugins/ipam-builtin', tests: ['contract.test.ts'], support: [] },
  { dir: 'plugins/kea-stub', tests: ['contract.test.ts', 'kea-stub.test.ts'], support: ['fake-kea.ts'] },
];
/** Packed too, because a package under test depends on them (the kernel on the client). */
const dependencies = ['client'];

const run = (command, args, cwd, extra = {}) => execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...extra });
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** Every relative import of the files copied (`paths`, folders walked) stays inside the package's test/ folder. */
function checkSelfContained(testDir, paths) {
  const problems = [];
  const check = (path) => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path)) if (entry !== 'node_modules') check(join(path, entry));
      return;
    }
    if (!/\.[cm]?[jt]s$/.test(path)) return;
    const text = readFileSync(path, 'utf8');
    for (const [, specifier] of text.matchAll(/(?:from\s+|import\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = resolve(dirname(path), specifier);
      if (relative(testDir, target).startsWith('..')) problems.push(`${relative(root, path)} imports ${specifier}, outside its package's tests`);
    }
  };
  for (const path of paths) check(join(testDir, path));
  return problems;
}

function main() {
  const problems = [];
  const work = mkdtempSync(join(tmpdir(), 'sprout-packed-'));
  const tarballs = join(work, 'tarballs');
  const project = join(work, 'project');
  mkdirSync(tarballs);
  mkdirSync(join(project, 'tests'), { recursive: true });
  try {
    if (build) run('npm', ['run', 'build', '--silent'], root, { stdio: 'inherit' });

    // 1. npm pack each package; what goes in is the package.json "files".
    const packed = {};
    for (const dir of [...packages.map((p) => p.dir), ...dependencies]) {
      const [info] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', tarballs], join(root, dir)));
      packed[info.name] = join(tarballs, info.filename);
      console.log(`packed ${info.name}: ${info.filename}, ${info.entryCount} files`);
    }

    // 2. An empty project with the tarballs and the test runner only.
    const rootLock = (name) => readJson(join(root, 'node_modules', name, 'package.json')).version;
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify(
        {
          name: 'sprout-packed-test',
          private: true,
          type: 'module',
          ava: {
            files: ['tests/**/*.test.ts'],
            extensions: { ts: 'module' },
            nodeArguments: ['--import=tsx'],
            workerThreads: false,
            timeout: '5m',
            concurrency: 2,
          },
        },
        null,
        2,
      ),
    );
    const installArgs = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
    run('npm', [...installArgs, ...Object.values(packed), `ava@${rootLock('ava')}`, `tsx@${rootLock('tsx')}`], project, { stdio: 'inherit' });

    // 3. Each package's tests, copied beside the install: they find the package by its name in node_modules.
    for (const pkg of packages) {
      const testDir = join(root, pkg.dir, 'test');
      problems.push(...checkSelfContained(testDir, [...pkg.tests, ...pkg.support]));
      const name = readJson(join(root, pkg.dir, 'package.json')).name;
      const into = join(project, 'tests', name.replace(/^@sprout\//, ''));
      for (const file of [...pkg.tests, ...pkg.support]) cpSync(join(testDir, file), join(into, file), { recursive: true });
    }
    if (problems.length > 0) throw new Error(problems.join('\n'));
    const installed = readdirSync(join(project, 'node_modules', '@sprout')).sort();
    console.log(`installed @sprout packages: ${installed.join(', ')}`);

    const env = { ...process.env, NODE_OPTIONS: '' };
    delete env.NODE_V8_COVERAGE;
    const ava = spawnSync(process.execPath, [join(project, 'node_modules', 'ava', 'entrypoints', 'cli.mjs')], { cwd: project, stdio: 'inherit', env });
    if (ava.status !== 0) throw new Error(`the packed packages' tests failed (ava exited ${ava.status ?? ava.signal})`);
    console.log('packed packages: all tests passed');
  } finally {
    if (keep) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
