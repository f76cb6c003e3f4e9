/** `@sprout/registry` finds the Verdaccio it pins, as `sprout registry start` runs it. */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { verdaccioBin } from '@sprout/registry';

test('verdaccioBin is the executable of the pinned Verdaccio, and it runs on this Node', async (t) => {
  const bin = verdaccioBin();
  t.true(existsSync(bin), bin);
  const pinned = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).dependencies.verdaccio;
  const { stdout } = await promisify(execFile)(process.execPath, [bin, '--version'], { encoding: 'utf8', timeout: 120_000 });
  t.is(stdout.trim(), `v${pinned}`);
});
