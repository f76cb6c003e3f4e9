/**
 * A real operating system, hands-free: a QEMU VM whose only power is its ipmi_sim BMC is
 * commissioned, then deployed with the Debian 12 image `sprout artifacts build-image`
 * made, an SSH key and cloud-config user-data. It is `deployed` only once the installed
 * OS phoned home; then the test logs in over SSH from inside the namespace at the
 * address IPAM gave it and checks the hostname, the user-data's file and that the root
 * filesystem fills the disk. BIOS (SeaBIOS) and UEFI (OVMF).
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { debianImage, startE2eSite } from '@sprout/test-support/e2e-site.ts';
import { startIpmiVm } from '@sprout/test-support/ipmi-vm.ts';
import { tail } from '@sprout/test-support/qemu.ts';

const GiB = 1024 ** 3;
const scenarios = [
  { firmware: 'bios' as const, subnet: '198.18.96', mac: '52:54:00:18:96:10' },
  { firmware: 'uefi' as const, subnet: '198.18.97', mac: '52:54:00:18:97:10' },
];

for (const scenario of scenarios) {
  test.serial(
    `${scenario.firmware}: a VM powered only by its BMC is deployed with Debian 12, reports its first boot, and its owner logs in over SSH`,
    async (t) => {
      t.timeout(30 * 60_000);
      const image = await debianImage();
      const site = await startE2eSite(t, {
        subnet: scenario.subnet,
        postgres: false,
        env: {},
        yaml: 'plugins:\n  transport-http: { waitSeconds: 2 }\n',
        name: `os-${scenario.firmware}`,
      });
      t.is(site.linkImage(image.path), 'debian-12.raw');
      const vm = await startIpmiVm(t, site, { name: 'vm-1', mac: scenario.mac, firmware: scenario.firmware, cpus: 2, memoryMiB: 1024, diskBytes: 3 * GiB });
      const { cli, cliWithInput, ns, work } = site;

      await cliWithInput(
        vm.bmc.password,
        'machine',
        'create',
        'vm-1',
        '--site',
        'lab',
        '--boot-mode',
        scenario.firmware,
        '--mac',
        scenario.mac,
        '--cpus',
        '2',
        '--memory-mib',
        '1024',
        '--disks',
        '1',
        ...vm.bmcFlags(),
      );
      const started = Date.now();
      await cli('machine', 'commission', 'vm-1', '--watch');
      const commissioned = Date.now();
      t.log(`commission: ${((commissioned - started) / 1000).toFixed(1)} s`);

      const key = join(work, 'id_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
      const secret = randomBytes(12).toString('hex');
      const userData = join(work, 'user-data.yaml');
      writeFileSync(userData, `#cloud-config\nwrite_files:\n  - path: /etc/sprout-e2e\n    content: "${secret}\\n"\n`);
      const deploy = await cli('machine', 'deploy', 'vm-1', '--image', 'debian-12', '--ssh-key', `${key}.pub`, '--user-data', userData, '--watch').catch(
        (err: Error) => {
          throw new Error(`${err.message}\nserial:\n${tail(vm.serial(2) + vm.serial(3))}`);
        },
      );
      t.log(`deploy to "deployed" (install, reboot, first boot reported): ${((Date.now() - commissioned) / 1000).toFixed(1)} s`);
      t.regex(deploy, /first-boot\s+succeeded/);
      const machine = JSON.parse(await cli('machine', 'show', 'vm-1', '--json'));
      t.is(machine.status, 'deployed', JSON.stringify(machine.statusReason));

      const workflows = JSON.parse(await cli('workflow', 'list', '--machine', 'vm-1', '--json'));
      const deployWorkflow = workflows.items.find((w: { kind: string }) => w.kind === 'deploy');
      const steps = JSON.parse(await cli('workflow', 'show', deployWorkflow.id, '--json')).steps;
      // Where the deploy's time went, per step (the closing notes quote these).
      const took = (s: { startedAt: string | null; finishedAt: string | null }) =>
        s.startedAt && s.finishedAt ? ((Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000).toFixed(1) : '-';
      t.log(`deploy steps (s): ${steps.map((s: any) => `${s.name} ${took(s)}`).join(', ')}`);
      const address = steps.find((s: { name: string }) => s.name === 'allocate-ip').result.address;
      t.true(address.startsWith(`${scenario.subnet}.`), address);

      const ssh = ns.spawn('ssh', [
        '-i',
        key,
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'ConnectTimeout=10',
        '-o',
        'BatchMode=yes',
        `debian@${address}`,
        'hostname; sudo cat /etc/sprout-e2e; findmnt -bno SIZE /; lsblk -bdno SIZE /dev/vda',
      ]);
      const code = await ssh.exited;
      const out = ssh.log();
      t.is(code, 0, `ssh: ${out}\nserial:\n${tail(vm.serial(3) || vm.serial(2))}`);
      const [hostname, value, rootBytes, diskBytes] = out.trim().split('\n').slice(-4);
      t.is(hostname, 'vm-1');
      t.is(value, secret, 'the user-data ran');
      t.true(Number(rootBytes) > Number(diskBytes) * 0.9, `the root filesystem (${rootBytes} bytes) fills the disk (${diskBytes} bytes)`);
    },
  );
}
