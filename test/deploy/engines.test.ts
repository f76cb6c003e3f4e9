/**
 * The README asks for Node.js 20: every package the lockfile installs must declare an engine
 * range that this Node.js satisfies, or `npm ci` warns EBADENGINE (and a package that means it
 * may break at run time). The root package.json pins the ones whose newest release asks for
 * Node 22 through `overrides`.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import semver from 'semver';

const root = new URL('../../', import.meta.url);
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};
const ours = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } };

test('every installed package accepts the Node.js version the project declares', (t) => {
  const lowest = semver.minVersion(ours.engines.node)!.version;
  const refused = Object.entries(lock.packages)
    .filter(([path, p]) => path !== '' && p.engines && !Array.isArray(p.engines) && typeof p.engines.node === 'string')
    .filter(([, p]) => !semver.satisfies(lowest, (p.engines as { node: string }).node, { includePrerelease: true }))
    .map(([path, p]) => `${path.replace(/^.*node_modules\//, '')}@${p.version} wants node ${(p.engines as { node: string }).node}`);
  t.deepEqual(refused, [], `the project declares node ${ours.engines.node} (lowest ${lowest})`);
});

test('the Node.js running the tests is one the project declares', (t) => {
  t.true(semver.satisfies(process.version, ours.engines.node), `${process.version} vs ${ours.engines.node}`);
});
