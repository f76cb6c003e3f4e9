/**
 * `sprout artifacts build-installer` as an operator runs it: the files the http service
 * serves by default, a manifest that matches them, an initramfs (read back by busybox)
 * holding /init, busybox and the modules in load order; the .deb cache reused; clear
 * errors for a bad flavour or a package apt does not know.
 */
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSproutError } from '@sprout/kernel';
import { download } from '../src/installer/debian-package.ts';
import { installerScripts } from '../src/installer/build.ts';
import { busybox, debCache } from './installer-debs.ts';

const bin = fileURLToPath(new URL('../../cli/bin/sprout.js', import.meta.url));
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function sprout(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as any).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test.serial(
  'build-installer writes vmlinuz, initrd.img and a manifest that matches them; the initramfs holds /init, busybox and the modules in load order',
  async (t) => {
    t.timeout(5 * 60_000);
    const out = mkdtempSync(join(tmpdir(), 'sprout-installer-'));
    t.teardown(() => rmSync(out, { recursive: true, force: true }));
    const run = await sprout('artifacts', 'build-installer', '--out', out, '--cache', debCache, '--json');
    t.is(run.code, 0, run.stderr);
    const manifest = JSON.parse(run.stdout);
    t.regex(manifest.kernel.package, /^linux-image-\d.*-cloud-amd64$/);
    t.is(manifest.kernel.flavour, 'cloud');
    t.is(manifest.busybox.package, 'busybox-static');
    t.deepEqual(readdirSync(join(out, 'installer')).sort(), ['initrd.img', 'manifest.json', 'vmlinuz']);
    const { out: printedOut, ...printed } = manifest;
    t.is(printedOut, out);
    t.deepEqual(JSON.parse(readFileSync(join(out, 'installer', 'manifest.json'), 'utf8')), printed);
    for (const file of [manifest.vmlinuz, manifest.initrd]) {
      t.is(sha256(join(out, file.path)), file.sha256, file.path);
      t.is(statSync(join(out, file.path)).size, file.bytes, file.path);
    }
    // the x86 boot protocol's header signature: a bzImage the firmware's loader can boot
    t.is(readFileSync(join(out, 'installer', 'vmlinuz')).toString('latin1', 0x202, 0x206), 'HdrS');

    const bb = await busybox();
    const unpacked = join(out, 'unpacked');
    execFileSync('sh', ['-c', `mkdir ${unpacked} && cd ${unpacked} && ${bb} zcat ../installer/initrd.img | ${bb} cpio -i -d -m 2>/dev/null`]);
    t.is(readFileSync(join(unpacked, 'init'), 'utf8'), readFileSync(installerScripts.init, 'utf8'));
    t.is(statSync(join(unpacked, 'init')).mode & 0o111, 0o111, '/init is executable');
    t.is(readFileSync(join(unpacked, 'etc', 'udhcpc.script'), 'utf8'), readFileSync(installerScripts.udhcpc, 'utf8'));
    t.is(readFileSync(join(unpacked, 'etc', 'sprout', 'erase.sh'), 'utf8'), readFileSync(installerScripts.erase, 'utf8'));
    t.is(readFileSync(join(unpacked, 'etc', 'sprout', 'image.sh'), 'utf8'), readFileSync(installerScripts.image, 'utf8'));
    t.is(readFileSync(join(unpacked, 'etc', 'sprout', 'hwtest.sh'), 'utf8'), readFileSync(installerScripts.hwtest, 'utf8'));
    t.true(statSync(join(unpacked, 'dev', 'console')).isCharacterDevice());
    t.regex(execFileSync(join(unpacked, 'bin', 'busybox')).toString(), /BusyBox v/);
    const loads = readFileSync(join(unpacked, 'etc', 'sprout', 'modules'), 'utf8')
      .trim()
      .split('\n');
    t.deepEqual(
      loads.map((path) => path.replace(/^.*\//, '').replace(/\.ko$/, '').replace(/-/g, '_')),
      manifest.modules,
    );
    for (const path of loads) t.true(statSync(join(unpacked, 'lib', 'modules', manifest.kernel.release, path)).size > 0, path);
  },
);

test.serial('a second build reuses the downloaded packages', async (t) => {
  t.timeout(5 * 60_000);
  const first = await download('busybox-static', debCache);
  const before = statSync(first.deb).mtimeMs;
  const again = await download('busybox-static', debCache);
  t.is(again.deb, first.deb);
  t.is(statSync(again.deb).mtimeMs, before, 'not downloaded again');
});

test('a package apt does not know, or a flavour that does not exist, is a clear error', async (t) => {
  const err = await download('sprout-no-such-package', debCache).catch((e) => e);
  t.true(isSproutError(err, 'SPROUT_ERR_UNAVAILABLE'));
  t.regex(err.message, /apt knows no package sprout-no-such-package/);
  const run = await sprout('artifacts', 'build-installer', '--kernel-flavour', 'rt', '--out', join(tmpdir(), 'never-written'));
  t.is(run.code, 1);
  t.regex(run.stderr, /--kernel-flavour must be one of: cloud, generic \(got rt\)/);
});
