/**
 * Module load order from a real Debian kernel package: dependencies read from each
 * module's .modinfo agree with GNU objcopy's copy of that section, every module comes after what it
 * depends on, built-in drivers are left out, and a driver the package lacks is named.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModuleTree, modinfo, readModule } from '../src/installer/kernel-modules.ts';
import { installerModules } from '../src/installer/build.ts';
import { kernelModules } from './installer-debs.ts';

test('depends= read from .modinfo is what GNU objcopy finds in that section', async (t) => {
  const { dir } = await kernelModules('linux-image-cloud-amd64');
  const tree = new ModuleTree(dir);
  const scratch = mkdtempSync(join(tmpdir(), 'sprout-modinfo-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  for (const name of ['virtio_net', 'virtio_pci', 'virtio_blk', 'sd_mod', 'virtio_scsi']) {
    const module = tree.module(name)!;
    t.truthy(module, name);
    // busybox modinfo would need a modules.dep, which is what the package lacks
    const copy = join(scratch, `${name}.modinfo`);
    execFileSync('objcopy', ['-O', 'binary', '--only-section=.modinfo', join(dir, module.path), copy]);
    const section = readFileSync(copy, 'utf8');
    const theirs = /(?:^|\0)depends=([^\0]*)/.exec(section)?.[1] ?? '';
    t.deepEqual(
      module.depends,
      theirs
        .split(',')
        .filter(Boolean)
        .map((d) => d.replace(/-/g, '_')),
      name,
    );
    t.is(modinfo(readModule(join(dir, module.path))).get('name')?.[0], name);
  }
});

test('the cloud installer loads virtio and SCSI drivers, each after its dependencies, nothing built in', async (t) => {
  const { dir } = await kernelModules('linux-image-cloud-amd64');
  const tree = new ModuleTree(dir);
  const order = tree.loadOrder(installerModules.cloud);
  const names = order.map((m) => m.name);
  for (const wanted of ['virtio_pci', 'virtio_net', 'virtio_blk', 'virtio', 'virtio_ring', 'net_failover', 'failover'])
    t.true(names.includes(wanted), `${wanted} in ${names.join(' ')}`);
  for (const module of order) {
    for (const dep of module.depends) {
      if (tree.builtin.has(dep)) continue;
      t.true(names.indexOf(dep) >= 0 && names.indexOf(dep) < names.indexOf(module.name), `${dep} before ${module.name}`);
    }
    t.false(tree.builtin.has(module.name), `${module.name} is built in and must not be loaded`);
  }
  t.is(new Set(names).size, names.length, 'each module once');
  t.deepEqual(tree.loadOrder(['af_packet']), [], 'af_packet is built into the cloud kernel');
  // The installer writes the cloud-init seed into the installed root filesystem (init: seed_cloud_init).
  t.true(tree.builtin.has('ext4') || names.includes('ext4'), 'ext4 is loaded or built in');
});

test('a driver neither built in nor in the package is named, with what needed it', async (t) => {
  const { dir } = await kernelModules('linux-image-cloud-amd64');
  const tree = new ModuleTree(dir);
  // The cloud kernel has no e1000: that is what --kernel-flavour generic is for.
  t.throws(() => tree.loadOrder(['virtio_net', 'e1000']), { message: /neither built in nor in .*: e1000$/ });
});

test('the generic flavour has e1000 and AHCI, after their dependencies', async (t) => {
  t.timeout(5 * 60_000); // a 70 MB package the first time
  const { dir } = await kernelModules('linux-image-amd64');
  const tree = new ModuleTree(dir);
  const names = tree.loadOrder(installerModules.generic).map((m) => m.name);
  t.true(names.includes('e1000'));
  t.true(names.includes('ahci'));
  t.true(names.indexOf('libata') < names.indexOf('ahci'), names.join(' '));
  t.true(names.indexOf('libahci') < names.indexOf('ahci'), names.join(' '));
});
