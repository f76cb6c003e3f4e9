/** The PowerVm test helper really runs QEMU: on, reset, boot-order change, off — judged from the process table. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { powerVm } from '@sprout/test-support/power-vm.ts';

/** The boot index QEMU was given for the NIC, from its command line. */
function nicBootIndex(pid: number): string | undefined {
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  return args.find((a) => a.startsWith('virtio-net-pci'))?.match(/bootindex=(\d+)/)?.[1];
}

test('a PowerVm starts QEMU in the asked boot order, resets, restarts for a new order, and stops', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'power-vm-'));
  const vm = powerVm({ name: 'vm-a', dir });
  t.teardown(async () => {
    await vm.close();
    rmSync(dir, { recursive: true, force: true });
  });
  t.false(vm.running());
  t.is(vm.boots, 0);

  await vm.start('network');
  const first = vm.pid()!;
  t.true(existsSync(`/proc/${first}`));
  t.is(nicBootIndex(first), '1', 'the NIC boots first');
  t.is(vm.boots, 1);
  t.is(vm.bootDevice(), 'network');
  await vm.start('disk');
  t.is(vm.pid(), first, 'starting a running VM changes nothing');
  t.is(vm.boots, 1);

  await vm.reset();
  t.is(vm.pid(), first, 'a reset in the same order keeps the process');
  t.is(vm.boots, 2);

  await vm.reset('disk');
  const second = vm.pid()!;
  t.not(second, first, 'a new boot order restarts QEMU');
  t.is(nicBootIndex(second), '2', 'the disk boots first');
  t.is(vm.boots, 3);
  t.is(vm.bootDevice(), 'disk');

  await vm.stop();
  t.false(vm.running());
  t.false(existsSync(`/proc/${second}`), 'QEMU ended');
  await vm.stop();
  t.is(vm.bootDevice(), 'disk', 'the order of the last start');
  await vm.close();
  t.false(existsSync(join(dir, 'vm-a')), 'close removes the VM files');
});

test('a UEFI PowerVm runs OVMF with its own copy of the variable store, and its power button reaches the VM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'power-vm-'));
  const vm = powerVm({ name: 'vm-uefi', dir, firmware: 'uefi' });
  t.teardown(async () => {
    await vm.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await vm.start('disk');
  const args = readFileSync(`/proc/${vm.pid()}/cmdline`, 'utf8').split('\0');
  t.true(
    args.some((a) => a.includes(`file=${join(dir, 'vm-uefi', 'OVMF_VARS.fd')}`)),
    args.join(' '),
  );
  t.true(existsSync(join(dir, 'vm-uefi', 'OVMF_VARS.fd')));
  await t.notThrowsAsync(vm.acpiShutdown());
  t.true(vm.running(), 'firmware without an OS ignores the power button');
  await vm.stop();
  t.false(vm.running());
});
