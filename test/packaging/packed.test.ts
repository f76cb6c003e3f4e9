/**
 * The kernel, a builtin plugin (ipam-builtin) and a stub (kea-stub) each install from their
 * `npm pack` tarball into an empty project with only their declared dependencies, and
 * their own tests pass there against the installed package (scripts/packed-test.mjs).
 * `npm test` builds first; alone, run `npm run build` before this file.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the packed kernel, ipam-builtin and kea-stub install into an empty project and pass their own tests there', async (t) => {
  t.timeout(900_000);
  const env = { ...process.env, NODE_OPTIONS: '' };
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ['scripts/packed-test.mjs', '--no-build'], { cwd: root, env });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (exit) => resolve({ code: exit, output }));
  });
  t.is(code, 0, output);
  for (const name of ['@sprout/kernel', '@sprout/plugin-ipam-builtin', '@sprout/plugin-kea-stub', '@sprout/client'])
    t.regex(output, new RegExp(`packed ${name}: `));
  t.regex(output, /installed @sprout packages: client, kernel, plugin-ipam-builtin, plugin-kea-stub\n/);
  // each package's tests ran, from the installed package
  t.regex(output, /kernel › plugin-host › a booted kernel wires providers, plugin routes, migrations and hooks/);
  t.regex(output, /plugin-ipam-builtin › contract › ipam-builtin on postgres/);
  t.regex(output, /plugin-kea-stub › contract › kea-stub against a fake Kea/);
  t.regex(output, /\d+ tests passed/);
  t.notRegex(output, /\d+ (tests? failed|tests? skipped|tests? todo|uncaught exceptions?|unhandled rejections?)/);
  t.regex(output, /packed packages: all tests passed/);
});
