/**
 * End to end with a real machine: a QEMU VM (SeaBIOS or OVMF with the iPXE ROM of its
 * virtio NIC, or OVMF's own PXE client fetching ipxe.efi by TFTP) on a tap in a network
 * namespace PXE-boots from a real site agent — DHCP, iPXE script,
 * the installer built by `sprout artifacts build-installer` from Debian packages — is
 * commissioned with facts measured inside the VM, gets an image streamed to its disk and
 * verified, and then boots that disk. Once on PGlite + HTTP transport, once on
 * PostgreSQL + NATS JetStream. The test is the hand of the manual power driver.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MARKER, natsUrl, readAt, sha256, startE2eSite, testImage } from '@sprout/test-support/e2e-site.ts';
import { OVMF_VARS, startVm, tail, writeSerconPort, type Vm } from '@sprout/test-support/qemu.ts';
import { until } from '@sprout/test-support/until.ts';

const hwtestScriptPlugins = fileURLToPath(new URL('../fixtures/hwtest-script', import.meta.url));
const SCRIPT_MARKER = 'SPROUT-HWTEST-SCRIPT-RAN';
const VM = { cpus: 2, memoryMiB: 1024, diskBytes: 64 * 1024 * 1024 };

interface Scenario {
  name: string;
  firmware: 'bios' | 'uefi';
  subnet: string;
  mac: string;
  postgres: boolean;
  /** Also deploy with a wrong expected sum and see the installer refuse it. */
  wrongSum: boolean;
  /** false: no iPXE ROM on the NIC; OVMF's own PXE gets an address and TFTPs ipxe.efi. */
  nicRom: boolean;
  /** Stop once the machine is commissioned (`ready`): no deploy. */
  commissionOnly: boolean;
  /** Also commission with a plugin's script hardware test (test/fixtures/hwtest-script), run by the real installer. */
  scriptTest?: boolean;
  env: Record<string, string>;
  yaml: string;
}

const scenarios: Scenario[] = [
  {
    name: 'PGlite + HTTP transport',
    firmware: 'bios',
    subnet: '198.18.90',
    mac: '52:54:00:18:90:10',
    postgres: false,
    wrongSum: true,
    nicRom: true,
    commissionOnly: false,
    scriptTest: true,
    env: { SPROUT_PLUGIN_DIR: hwtestScriptPlugins },
    yaml: 'plugins:\n  transport-http: { waitSeconds: 2 }\n',
  },
  {
    name: 'PostgreSQL + NATS JetStream',
    firmware: 'bios',
    subnet: '198.18.91',
    mac: '52:54:00:18:91:10',
    postgres: true,
    wrongSum: false,
    nicRom: true,
    commissionOnly: false,
    env: { SPROUT_NATS_URL: natsUrl },
    yaml: `plugins:\n  transport-nats: { prefix: e2e${randomBytes(3).toString('hex')} }\n`,
  },
  {
    name: 'UEFI (OVMF), PGlite + HTTP transport',
    firmware: 'uefi',
    subnet: '198.18.92',
    mac: '52:54:00:18:92:10',
    postgres: false,
    wrongSum: false,
    nicRom: true,
    commissionOnly: false,
    env: {},
    yaml: 'plugins:\n  transport-http: { waitSeconds: 2 }\n',
  },
  {
    // OVMF's own PXE client (no iPXE ROM) sets the broadcast flag and accepts only
    // 255.255.255.255: DHCP, TFTP of ipxe.efi from /usr/lib/ipxe, then iPXE as above.
    name: 'UEFI (OVMF) native PXE, no iPXE ROM on the NIC, PGlite + HTTP transport',
    firmware: 'uefi',
    subnet: '198.18.93',
    mac: '52:54:00:18:93:10',
    postgres: false,
    wrongSum: false,
    nicRom: false,
    commissionOnly: true,
    env: {},
    yaml: 'plugins:\n  transport-http: { waitSeconds: 2 }\n',
  },
];

for (const scenario of scenarios) {
  test.serial(
    `${scenario.name}: a QEMU VM PXE-boots the installer, is commissioned with its real facts${scenario.commissionOnly ? ' and is ready' : ', gets the image written and verified, then boots it'}`,
    async (t) => {
      t.timeout(12 * 60_000);
      const { work, ns, cli, addImage, logFile } = await startE2eSite(t, {
        subnet: scenario.subnet,
        postgres: scenario.postgres,
        env: scenario.env,
        yaml: scenario.yaml,
        name: `qemu-${scenario.subnet.replace(/\./g, '-')}`,
      });
      await cli(
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
        String(VM.cpus),
        '--memory-mib',
        String(VM.memoryMiB),
        '--disks',
        '1',
      );
      const image = testImage(4 * 1024 * 1024);
      addImage('test.raw', image);

      const disk = join(work, 'disk.raw');
      writeFileSync(disk, '');
      truncateSync(disk, VM.diskBytes);
      const serconPort = join(work, 'sercon-port');
      writeSerconPort(serconPort);
      const uefiVars = join(work, 'OVMF_VARS.fd');
      if (scenario.firmware === 'uefi') copyFileSync(OVMF_VARS, uefiVars);
      const vms: Vm[] = [];
      t.teardown(async () => {
        for (const vm of vms) await vm.stop();
      });
      const boot = (name: string) => {
        const vm = startVm(ns, {
          mac: scenario.mac,
          disk,
          memoryMiB: VM.memoryMiB,
          cpus: VM.cpus,
          serialLog: logFile(`${name}.serial.log`),
          serconPort,
          uefiVars: scenario.firmware === 'uefi' ? uefiVars : undefined,
          nicRom: scenario.nicRom,
        });
        vms.push(vm);
        return vm;
      };
      const machine = async () => JSON.parse(await cli('machine', 'show', 'vm-1', '--json'));
      /**
       * The agent waits for someone to power the VM on (its manual power-on step) and holds
       * the boot intent, so the VM's first PXE request ends that step and the script it gets
       * names the installer. Read from the agent's own files: the script itself is served
       * only to the address the agent's DHCP leased the VM (docs/agents.md), which nothing
       * here has yet.
       */
      const installerScriptReady = (intent: 'commission' | 'deploy') =>
        until(
          'the agent to wait for the VM to be powered on, with its boot intent',
          async () => {
            const agentFile = (name: string) => {
              try {
                return JSON.parse(readFileSync(join(work, 'agent', name), 'utf8'));
              } catch {
                return undefined; // not written yet
              }
            };
            const waits: { machineId: string }[] = agentFile('power-waits.json') ?? [];
            const intents: { mac: string; intent: string; machineId: string }[] = agentFile('desired-state.json')?.document?.bootIntents ?? [];
            const booting = intents.find((b) => b.mac === scenario.mac && b.intent === intent);
            return booting !== undefined && waits.some((w) => w.machineId === booting.machineId);
          },
          60_000,
        );

      // ---- commission: real facts from inside the VM ----
      const tests = [
        'cpu-inventory',
        'memory-size',
        'disk-presence',
        'disk-read',
        'memory-short',
        'nic-link',
        'smart',
        ...(scenario.scriptTest ? ['marker-script'] : []),
      ];
      const commission = JSON.parse(await cli('machine', 'commission', 'vm-1', ...tests.flatMap((name) => ['--test', name]), '--json'));
      await installerScriptReady('commission');
      const started = Date.now();
      const vm1 = boot('1-commission');
      if (!scenario.nicRom) {
        // The firmware's own DHCP client must be answered so it can go on to TFTP.
        await vm1.waitForSerial(/Station IP address is 198\.18\.\d+\.\d+/, 3 * 60_000);
        await vm1.waitForSerial('NBP file downloaded successfully', 2 * 60_000);
      }
      await vm1.waitForExit(5 * 60_000);
      t.log(`commission: power on → installer powered off in ${((Date.now() - started) / 1000).toFixed(1)} s\n${vm1.timeline()}`);
      const serial1 = vm1.serial();
      t.regex(serial1, /iPXE/, scenario.nicRom ? 'the NIC ROM ran iPXE' : 'ipxe.efi, loaded by OVMF over TFTP, ran');
      if (!scenario.nicRom)
        t.regex(serial1, />>Start PXE over IPv4[\s\S]*Station IP address is 198\.18\.93\.\d+[\s\S]*NBP file downloaded successfully[\s\S]*iPXE/, tail(serial1));
      t.regex(serial1, /sprout-installer: network up: eth0 198\.18\.\d+\.\d+/, tail(serial1));
      t.regex(serial1, /sprout-installer: commissioned: /, tail(serial1));
      const ready = await until('vm-1 ready', async () => {
        const m = await machine();
        return ['ready', 'failed_commissioning', 'failed_testing'].includes(m.status) && m;
      });
      t.is(ready.status, 'ready', JSON.stringify(ready.statusReason));
      t.is(ready.hardware.cpus, VM.cpus);
      t.true(
        Math.abs(ready.hardware.memoryMiB - VM.memoryMiB) <= VM.memoryMiB * 0.05,
        `memoryMiB ${ready.hardware.memoryMiB} is not close to -m ${VM.memoryMiB}`,
      );
      t.is(ready.hardware.disks, 1);
      t.is(ready.hardware.diskBytes, VM.diskBytes);
      const results = Object.fromEntries(ready.hardwareTests.map((h: any) => [h.name, h.status]));
      t.deepEqual(results, {
        'cpu-inventory': 'passed',
        'memory-size': 'passed',
        'disk-presence': 'passed',
        'disk-read': 'passed',
        'memory-short': 'passed',
        'nic-link': 'passed',
        smart: 'skipped',
        ...(scenario.scriptTest ? { 'marker-script': 'passed' } : {}),
      });
      if (scenario.scriptTest) {
        // The plugin's script ran inside the VM: its marker, with the CPU count it saw there, is the result's output.
        const script = ready.hardwareTests.find((h: any) => h.name === 'marker-script');
        t.is(script.output, `${SCRIPT_MARKER} cpus=${VM.cpus}\nstderr works too`);
        t.regex(serial1, /sprout-installer: hwtest marker-script: passed/, tail(serial1));
      }
      const workflow = JSON.parse(await cli('workflow', 'show', commission.id, '--json'));
      t.is(workflow.state, 'succeeded');
      if (scenario.commissionOnly) return;

      // ---- deploy: the image streamed to the disk, verified, then booted ----
      const deploy = JSON.parse(await cli('machine', 'deploy', 'vm-1', '--image', 'test.raw', '--no-wait-first-boot', '--json'));
      await installerScriptReady('deploy');
      const deployStarted = Date.now();
      const vm2 = boot('2-deploy');
      await vm2.waitForSerial('sprout-installer: reboot', 5 * 60_000);
      const installed = Date.now();
      t.log(`deploy: power on → image written, verified, reboot in ${((installed - deployStarted) / 1000).toFixed(1)} s`);
      const deployed = await until(
        'vm-1 deployed',
        async () => {
          const m = await machine();
          return ['deployed', 'failed_deployment'].includes(m.status) && m;
        },
        60_000,
      );
      t.is(deployed.status, 'deployed', JSON.stringify(deployed.statusReason));
      t.is(JSON.parse(await cli('workflow', 'show', deploy.id, '--json')).state, 'succeeded');
      t.regex(vm2.serial(), new RegExp(`read back ${image.length} bytes from /dev/vda: sha256 matches`));
      // SeaBIOS runs the image's boot sector. Under OVMF, iPXE's `exit 1` hands the boot
      // back to the firmware, which is where the test stops: OVMF would next try its own
      // PXE and HTTP boot on the NIC (~130 s of timeouts) before the disk, and the image
      // is BIOS-only (no EFI system partition) anyway.
      const reachedDisk = scenario.firmware === 'bios' ? new RegExp(MARKER) : /boots from its local disk\s+Could not boot image: Error 0x00000001/;
      const localBoot =
        scenario.firmware === 'bios'
          ? /Sprout: vm-1 boots from its local disk[\s\S]*Booting from Hard Disk[\s\S]*SPROUT-DISK-BOOTED/
          : /Sprout: vm-1 boots from its local disk\s+Could not boot image: Error 0x00000001/;
      const afterReboot = (vm: Vm) => vm.serial().slice(Math.max(vm.serial().indexOf('sprout-installer: reboot'), 0));
      await until('the rebooted VM to leave the network boot for its disk', async () => reachedDisk.test(afterReboot(vm2)), 3 * 60_000).catch((err) => {
        throw new Error(`${err.message}; serial tail:\n${tail(vm2.serial())}`);
      });
      t.log(
        `local boot: reboot → ${scenario.firmware === 'bios' ? 'boot sector on COM1' : 'iPXE hands back to OVMF'} in ${((Date.now() - installed) / 1000).toFixed(1)} s`,
      );
      await vm2.stop();
      t.log(`deploy and local boot, one power-on:\n${vm2.timeline()}`);
      t.is(statSync(disk).size, VM.diskBytes);
      t.is(sha256(readAt(disk, image.length)), sha256(image), 'the disk holds the image, byte for byte');

      // The reboot may have raced the switch to local boot (the firmware reaches the disk
      // either way, after the refusal script); a fresh power-on must get the local-boot script.
      if (!afterReboot(vm2).includes('boots from its local disk')) {
        t.log('the first reboot came before the local-boot intent reached the agent; powering on again');
        const vm3 = boot('3-local');
        await until('the VM to leave the network boot for its disk', async () => reachedDisk.test(vm3.serial()), 3 * 60_000).catch((err) => {
          throw new Error(`${err.message}; serial tail:\n${tail(vm3.serial())}`);
        });
        await vm3.stop();
        t.regex(vm3.serial(), localBoot);
      } else {
        t.regex(afterReboot(vm2), localBoot);
      }

      if (!scenario.wrongSum) return;
      // ---- an image that is not what the operator expects: the installer refuses it ----
      await cli('machine', 'release', 'vm-1', '--watch');
      t.is((await machine()).status, 'ready');
      const wrong = 'ab'.repeat(32);
      await cli('machine', 'deploy', 'vm-1', '--image', 'test.raw', '--image-sha256', wrong, '--no-wait-first-boot');
      await installerScriptReady('deploy');
      const vm4 = boot('4-wrong-sum');
      await vm4.waitForExit(5 * 60_000);
      const failed = await until(
        'vm-1 failed_deployment',
        async () => {
          const m = await machine();
          return m.status === 'failed_deployment' && m;
        },
        60_000,
      );
      t.true(failed.statusReason.message.includes(`image checksum mismatch: expected sha256 ${wrong}, actual ${sha256(image)}`), failed.statusReason.message);
      t.regex(vm4.serial(), /sprout-installer: FAILED: image checksum mismatch/);
      // What failed verification is not left bootable: the disk's ends (MBR, GPT, boot code) are zeroed.
      t.regex(failed.statusReason.message, /\/dev\/vda wiped: its first and last 16 MiB zeroed/);
      t.true(
        readAt(disk, 16 * 1024 * 1024).every((b) => b === 0),
        'the image that failed verification is wiped from the disk',
      );

      if (!scenario.scriptTest) return;
      // ---- a plugin's script test that exits 1 fails commissioning, naming it with its output's tail ----
      await cli('machine', 'release', 'vm-1', '--watch');
      const failing = JSON.parse(await cli('machine', 'commission', 'vm-1', '--test', 'cpu-inventory', '--test', 'burn-in-fails', '--json'));
      await installerScriptReady('commission');
      const vm5 = boot('5-failing-test');
      await vm5.waitForExit(5 * 60_000);
      const testFailed = await until(
        'vm-1 failed_testing',
        async () => {
          const m = await machine();
          return ['failed_testing', 'failed_commissioning', 'ready'].includes(m.status) && m;
        },
        60_000,
      );
      t.is(testFailed.status, 'failed_testing', JSON.stringify(testFailed.statusReason));
      t.regex(
        testFailed.statusReason.message,
        new RegExp(
          `hardware tests failed: burn-in-fails — burn-in-fails: [\\s\\S]*checked ${VM.cpus} cpus[\\s\\S]*SPROUT-HWTEST-BURN-IN-FAILED: 3 ECC errors on DIMM A1`,
        ),
      );
      const burnIn = testFailed.hardwareTests.find((h: any) => h.name === 'burn-in-fails');
      t.is(burnIn.status, 'failed');
      t.regex(burnIn.output, /SPROUT-HWTEST-BURN-IN-FAILED: 3 ECC errors on DIMM A1/);
      t.is(testFailed.hardwareTests.find((h: any) => h.name === 'cpu-inventory').status, 'passed');
      t.is(JSON.parse(await cli('workflow', 'show', failing.id, '--json')).state, 'failed');
      t.regex(vm5.serial(), /sprout-installer: hwtest burn-in-fails: failed/, tail(vm5.serial()));
    },
  );
}
