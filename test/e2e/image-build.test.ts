/**
 * `sprout artifacts build-image debian-12` end to end: the real CLI builds the image from
 * Debian packages (once per run, reused from the shared cache folder), its manifest and
 * GPT layout are checked on the file, a second run reuses it, and then the image boots in
 * QEMU TCG straight from its disk — SeaBIOS and OVMF — with a NoCloud seed on a second
 * small FAT disk (label CIDATA) that injects the test's SSH key. The test logs in over SSH
 * (QEMU user networking, restricted to the host, port forwarded on loopback) and checks
 * the hostname, sudo, and that the root filesystem grew to the bigger disk.
 */
import test from 'ava';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debianImage, readAt, repoRoot } from '@sprout/test-support/e2e-site.ts';
import { sprout, freePort } from '@sprout/test-support/processes.ts';
import { OVMF_CODE, OVMF_VARS, tail, writeSerconPort } from '@sprout/test-support/qemu.ts';
import { until } from '@sprout/test-support/until.ts';

const GiB = 1024 ** 3;
const DISK_BYTES = 3 * GiB;

function exec(command: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

test.serial('build-image debian-12 writes a GPT image with GRUB for BIOS and UEFI, and its manifest', async (t) => {
  t.timeout(20 * 60_000);
  const built = await debianImage();
  t.log(`image ${built.reused ? 'reused' : `built in ${built.buildSeconds} s`}: ${built.path}, ${built.size} bytes, ${built.packages} packages`);
  t.is(built.name, 'debian-12');
  t.is(built.format, 'raw');
  t.is(built.compression, 'none');
  t.is(statSync(built.path).size, built.size);
  const sum = await exec('sha256sum', [built.path]);
  t.is(sum.stdout.split(' ')[0], built.sha256, 'the manifest sha256 is the file sha256');
  t.deepEqual(JSON.parse(readFileSync(built.manifestPath, 'utf8')).sha256, built.sha256, 'the manifest file beside the image says the same');
  t.true(built.packages > 150, `packages: ${built.packages}`);
  t.is(built.kernel.package, 'linux-image-cloud-amd64');
  t.truthy(Date.parse(built.builtAt));

  const table = JSON.parse((await exec('sfdisk', ['--json', built.path])).stdout).partitiontable;
  t.is(table.label, 'gpt');
  t.deepEqual(
    table.partitions.map((p: any) => p.type),
    ['21686148-6449-6E6F-744E-656564454649', 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709'],
    'BIOS boot, ESP, root (last, so it can grow)',
  );
  const [bios, esp, root] = table.partitions;
  t.true((root.start + root.size) * 512 <= built.size, 'the root partition ends inside the image');

  // BIOS: GRUB's boot.img in the MBR, pointing at core.img in the BIOS boot partition.
  const mbr = readAt(built.path, 512);
  t.is(mbr.readUInt16LE(510), 0xaa55);
  t.true(mbr.includes(Buffer.from('GRUB ')), 'GRUB boot code in the MBR');
  t.is(Number(mbr.readBigUInt64LE(0x5c)), bios.start, "boot.img's core.img sector");
  t.is(Number(readAt(built.path, 512, bios.start * 512).readBigUInt64LE(500)), bios.start + 1, "core.img's blocklist starts after its first sector");
  // UEFI: the fallback loader on the ESP.
  const dir = await exec('mdir', ['-b', '-i', `${built.path}@@${esp.start * 512}`, '::/EFI/BOOT']);
  t.regex(dir.stdout, /BOOTX64\.EFI/i, `ESP /EFI/BOOT: ${dir.stdout}${dir.stderr}`);
  // The root filesystem: ext4 with the kernel, GRUB's config and cloud-init's.
  const rootFs = `${built.path}?offset=${root.start * 512}`;
  const cat = async (path: string) => (await exec('debugfs', ['-R', `cat ${path}`, rootFs])).stdout;
  t.regex(await cat('/boot/grub/grub.cfg'), new RegExp(`search --no-floppy --fs-uuid --set=root ${built.layout.rootUuid}[\\s\\S]*console=ttyS0`));
  t.regex(await cat('/etc/cloud/cloud.cfg.d/90-sprout-image.cfg'), /datasource_list: \[NoCloud, None\]/);
  t.regex(await cat('/etc/fstab'), new RegExp(`UUID=${built.layout.rootUuid} / ext4`));
  t.is(await cat('/etc/machine-id'), '', 'no machine identity baked in');

  // Same inputs: reused, not rebuilt.
  const again = await sprout(['artifacts', 'build-image', 'debian-12', '--out', join(built.path, '..', '..'), '--cache', '/nonexistent', '--json'], {
    cwd: repoRoot,
  });
  t.is(again.code, 0, again.stderr);
  const second = JSON.parse(again.stdout);
  t.true(second.reused);
  t.is(second.sha256, built.sha256);
  t.is(second.builtAt, built.builtAt);
  const human = await sprout(['artifacts', 'build-image', 'debian-12', '--out', join(built.path, '..', '..')], { cwd: repoRoot });
  t.regex(human.stdout, /^reusing .*debian-12\.raw/);
  t.regex(human.stdout, new RegExp(`"sha256": "${built.sha256}"`), 'the human output prints the manifest too');

  const bad = await sprout(['artifacts', 'build-image', 'debian-12', '--compress', 'zstd'], { cwd: repoRoot });
  t.not(bad.code, 0);
  t.regex(bad.stderr + bad.stdout, /--compress must be one of: none, gzip, xz \(got zstd\)/);
});

for (const firmware of ['bios', 'uefi'] as const) {
  test.serial(`the image boots (${firmware}), takes its NoCloud seed, answers SSH and grows its root to the disk`, async (t) => {
    t.timeout(15 * 60_000);
    const built = await debianImage();
    const dir = mkdtempSync(join(tmpdir(), `sprout-image-boot-${firmware}-`));
    let qemu: ChildProcess | undefined;
    t.teardown(async () => {
      if (qemu && qemu.exitCode === null && qemu.signalCode === null) {
        const gone = new Promise((r) => qemu!.once('exit', r));
        qemu.kill('SIGKILL');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    });

    // The machine's disk: the image on a bigger disk (a sparse copy).
    const disk = join(dir, 'disk.raw');
    const copied = await exec('cp', ['--sparse=always', built.path, disk], 120_000);
    t.is(copied.code, 0, copied.stderr);
    truncateSync(disk, DISK_BYTES);

    // The NoCloud seed: a FAT disk labelled CIDATA with meta-data and user-data.
    const hostname = `sprout-${firmware}-${randomBytes(3).toString('hex')}`;
    const key = join(dir, 'key');
    t.is((await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key])).code, 0);
    writeFileSync(join(dir, 'meta-data'), `instance-id: ${hostname}\nlocal-hostname: ${hostname}\n`);
    writeFileSync(join(dir, 'user-data'), `#cloud-config\nssh_authorized_keys:\n  - ${readFileSync(`${key}.pub`, 'utf8').trim()}\n`);
    const seed = join(dir, 'seed.img');
    t.is((await exec('mkfs.fat', ['-C', '-n', 'CIDATA', seed, '2048'])).code, 0);
    const put = await exec('mcopy', ['-i', seed, join(dir, 'meta-data'), join(dir, 'user-data'), '::']);
    t.is(put.code, 0, put.stderr);

    const port = await freePort();
    const serialLog = join(dir, 'serial.log');
    const args = [
      '-accel',
      'tcg',
      '-machine',
      'pc',
      '-m',
      '1024',
      '-smp',
      '2',
      '-display',
      'none',
      '-monitor',
      'none',
      '-serial',
      `file:${serialLog}`,
      // Only the host is reachable from the guest (restrict=on); SSH is forwarded on loopback.
      '-netdev',
      `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${port}-:22`,
      '-device',
      'virtio-net-pci,netdev=n0,romfile=',
      '-drive',
      `file=${disk},if=none,id=d0,format=raw`,
      '-device',
      'virtio-blk-pci,drive=d0,bootindex=1',
      '-drive',
      `file=${seed},if=none,id=d1,format=raw,readonly=on`,
      '-device',
      'virtio-blk-pci,drive=d1',
    ];
    if (firmware === 'uefi') {
      copyFileSync(OVMF_VARS, join(dir, 'vars.fd'));
      args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${join(dir, 'vars.fd')}`);
    } else {
      writeSerconPort(join(dir, 'sercon'));
      args.push('-fw_cfg', `name=etc/sercon-port,file=${join(dir, 'sercon')}`);
    }
    const started = Date.now();
    qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let qemuErr = '';
    qemu.stderr!.on('data', (d) => (qemuErr += d));
    const serial = () => {
      try {
        return readFileSync(serialLog, 'latin1').replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');
      } catch {
        return '';
      }
    };

    const ssh = (command: string) =>
      exec(
        'ssh',
        [
          '-i',
          key,
          '-p',
          String(port),
          '-o',
          'BatchMode=yes',
          '-o',
          'StrictHostKeyChecking=no',
          '-o',
          'UserKnownHostsFile=/dev/null',
          '-o',
          'ConnectTimeout=5',
          '-o',
          'LogLevel=ERROR',
          'debian@127.0.0.1',
          command,
        ],
        30_000,
      );
    try {
      await until(
        `SSH login as debian on the ${firmware} VM`,
        async () => {
          if (qemu!.exitCode !== null || qemu!.signalCode !== null) throw new Error(`QEMU ended: ${qemuErr}`);
          return (await ssh('true')).code === 0;
        },
        10 * 60_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\nserial tail:\n${tail(serial())}`);
    }
    const sshSeconds = (Date.now() - started) / 1000;
    // cloud-init's final stage may still be running when sshd answers.
    let status = '';
    await until(
      'cloud-init to finish',
      async () => {
        status = (await ssh('cloud-init status --long')).stdout;
        return !/status: (running|not started)/.test(status) && /status: /.test(status);
      },
      5 * 60_000,
    );
    const cloudInitSeconds = (Date.now() - started) / 1000;
    t.log(`${firmware}: SSH after ${sshSeconds.toFixed(1)} s, cloud-init done after ${cloudInitSeconds.toFixed(1)} s (TCG)`);
    t.regex(status, /status: done/, status);

    t.is((await ssh('hostname')).stdout.trim(), hostname);
    t.is((await ssh('sudo -n id -u')).stdout.trim(), '0', 'the default user has sudo');
    const size = Number((await ssh('findmnt -bno SIZE /')).stdout.trim());
    t.true(size > DISK_BYTES * 0.9 && size < DISK_BYTES, `root filesystem ${size} bytes on a ${DISK_BYTES}-byte disk (image ${built.size})`);
    t.regex((await ssh('networkctl list --no-legend')).stdout, /routable|configured/, 'systemd-networkd manages the NIC');
    const firmwareDir = (await ssh('test -d /sys/firmware/efi && echo uefi || echo bios')).stdout.trim();
    t.is(firmwareDir, firmware);
    t.is((await ssh('findmnt -no FSTYPE /boot/efi')).stdout.trim(), 'vfat', 'the ESP is mounted');
    t.regex(serial(), /Linux version/, 'the kernel logs to the serial console');
  });
}
