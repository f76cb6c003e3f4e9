/**
 * The machine simulator against a real control plane and a real agent, over loopback:
 * simulated machines PXE-boot through the relay (DHCP as firmware, TFTP, DHCP as iPXE,
 * the HTTP script), run the installer story and end where the API says they should.
 */
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simulatedSite } from '@sprout/test-support/site-lab.ts';
import { until } from '@sprout/test-support/until.ts';

const mac = (n: number) => `52:54:00:77:01:${n.toString(16).padStart(2, '0')}`;

test.serial('one machine: commissioned with its facts and hardware tests, deployed from a named image, then it boots its local disk', async (t) => {
  const lab = await simulatedSite(t, '127.77.1');
  const image = randomBytes(3_000_000);
  writeFileSync(join(lab.images, 'tiny.raw'), image);
  await lab.api('POST', '/v1/machines', {
    site: 'lab',
    hostname: 'sim-1',
    arch: 'x86_64',
    bootMode: 'bios',
    interfaces: [{ mac: mac(1) }],
    expected: { cpus: 8 },
  });
  await lab.api('POST', '/v1/machines/sim-1/commission', { hwtest: ['cpu-inventory', 'memory-size', 'disk-presence'] });

  const commissioned = await lab.simulator.powerOn({ mac: mac(1), cpus: 8, memoryMiB: 16384, disks: 2, diskBytes: 2e12 });
  t.is(commissioned.outcome, 'powered-off', JSON.stringify(lab.events, null, 1));
  t.regex(commissioned.address ?? '', /^127\.77\.1\.\d+$/);
  const ready = await until('sim-1 ready', async () => {
    const m = await lab.api('GET', '/v1/machines/sim-1');
    return m.status === 'ready' && m;
  });
  t.deepEqual(ready.hardware, { cpus: 8, memoryMiB: 16384, disks: 2, diskBytes: 2e12 });
  t.deepEqual(ready.hardwareTests.map((h: any) => [h.name, h.status]).sort(), [
    ['cpu-inventory', 'passed'],
    ['disk-presence', 'passed'],
    ['memory-size', 'passed'],
  ]);
  // The story of the last (successful) boot, phase by phase.
  // (Powered on with the request, it may have waited in iPXE for its step: not part of the story.)
  const kinds = lab.events.map((e) => e.kind);
  const story = kinds.slice(kinds.lastIndexOf('refused') + 1).filter((k) => k !== 'waiting');
  const booted = lab.events.slice(kinds.lastIndexOf('refused') + 1);
  t.log(`a commissioning boot (DHCP, TFTP, DHCP, script, kernel, initrd, metadata, 3 tests, callbacks) took ${booted.at(-1)!.at - booted[0]!.at} ms`);
  t.deepEqual(story, [
    'dhcp',
    'tftp',
    'dhcp',
    'script',
    'download',
    'download',
    'metadata',
    'hwtest',
    'callback',
    'hwtest',
    'callback',
    'hwtest',
    'callback',
    'callback',
    'power-off',
  ]);
  t.regex(lab.events.find((e) => e.kind === 'tftp')!.detail, /undionly\.kpxe: 70000 bytes \(matches tsize\)/);
  t.true(lab.events.every((e) => e.mac === mac(1)));

  lab.events.length = 0;
  await lab.api('POST', '/v1/machines/sim-1/deploy', { image: 'tiny.raw' });
  const deployed = await lab.simulator.powerOn({ mac: mac(1), arch: 'bios' });
  t.is(deployed.outcome, 'local-boot', JSON.stringify(lab.events, null, 1));
  const sum = createHash('sha256').update(image).digest('hex');
  t.true(lab.events.some((e) => e.kind === 'download' && e.detail.includes(`${image.length} bytes, sha256 ${sum} (as expected)`)));
  t.true(lab.events.some((e) => e.kind === 'callback' && e.detail.startsWith('install-complete → 202')));
  const machine = await until('sim-1 deployed', async () => {
    const m = await lab.api('GET', '/v1/machines/sim-1');
    return m.status === 'deployed' && m;
  });
  t.is(machine.statusReason, null);

  // Deployed: a power cycle goes straight to the disk.
  const again = await lab.simulator.powerOn({ mac: mac(1) });
  t.like(again, { outcome: 'local-boot', boots: 1 });
});

test.serial('twenty machines at once through one relay: all deployed, each with its own address', async (t) => {
  // Twenty machines retrying every 300 ms would crowd out the agent they wait for on a small host.
  const lab = await simulatedSite(t, '127.77.2', { retryDelayMs: 1000 });
  writeFileSync(join(lab.images, 'tiny.raw'), randomBytes(500_000));
  const count = 20;
  const macs = Array.from({ length: count }, (_, i) => `52:54:00:77:02:${(i + 1).toString(16).padStart(2, '0')}`);
  await Promise.all(
    macs.map(async (m, i) => {
      await lab.api('POST', '/v1/machines', {
        site: 'lab',
        hostname: `many-${i + 1}`,
        arch: 'x86_64',
        bootMode: i % 2 ? 'uefi' : 'bios',
        interfaces: [{ mac: m }],
      });
      await lab.api('POST', `/v1/machines/many-${i + 1}/commission`, { hwtest: ['cpu-inventory'] });
    }),
  );
  const started = Date.now();
  const commissioned = await Promise.all(macs.map((m, i) => lab.simulator.powerOn({ mac: m, arch: i % 2 ? 'uefi' : 'bios' })));
  t.log(`commissioned in ${Date.now() - started} ms`);
  t.deepEqual(
    commissioned.map((r) => r.outcome),
    macs.map(() => 'powered-off'),
  );
  await until(
    'all ready',
    async () => (await lab.api('GET', '/v1/machines?site=lab&limit=100')).items.filter((m: any) => m.status === 'ready').length === count,
    60_000,
  );
  await Promise.all(macs.map((_, i) => lab.api('POST', `/v1/machines/many-${i + 1}/deploy`, { image: 'tiny.raw' })));
  const deployed = await Promise.all(macs.map((m, i) => lab.simulator.powerOn({ mac: m, arch: i % 2 ? 'uefi' : 'bios' })));
  t.deepEqual(
    deployed.map((r) => r.outcome),
    macs.map(() => 'local-boot'),
  );
  const machines = await until(
    'all deployed',
    async () => {
      const items = (await lab.api('GET', '/v1/machines?site=lab&limit=100')).items;
      return items.filter((m: any) => m.status === 'deployed').length === count && items;
    },
    60_000,
  );
  t.is(machines.length, count);
  const addresses = deployed.map((r) => r.address);
  t.is(new Set(addresses).size, count, `addresses: ${addresses.join(' ')}`);
  t.true(addresses.every((a) => /^127\.77\.2\.\d+$/.test(a ?? '')));
  t.true(
    lab.events.some((e) => e.kind === 'tftp' && e.detail.startsWith('ipxe.efi')),
    'UEFI machines fetched ipxe.efi',
  );
  const boots = [...commissioned, ...deployed].reduce((n, r) => n + r.boots, 0);
  t.log(`${count} machines commissioned and deployed in ${Date.now() - started} ms (${boots} PXE boots, refused ones included)`);
});

test.serial(
  'a powered-off machine stops wherever it is; an unknown machine is refused and keeps retrying; a crash mid-install reboots and completes; sprout lab simulate plays machines too',
  async (t) => {
    const lab = await simulatedSite(t, '127.77.3');
    const stranger = lab.simulator.powerOn({ mac: '52:54:00:77:03:99' });
    await until('a refusal', async () => lab.events.some((e) => e.kind === 'refused'));
    lab.simulator.powerOff('52:54:00:77:03:99');
    const result = await stranger;
    t.is(result.outcome, 'powered-off');
    t.true(result.boots >= 1);
    t.regex(lab.events.find((e) => e.kind === 'refused')!.detail, /no DHCP offer/);
    await t.throwsAsync(lab.simulator.powerOn({ mac: 'not-a-mac' }), { message: /not a MAC address/ });

    // crash-mid-install: the first install boot dies in the image download, the reboot completes it
    writeFileSync(join(lab.images, 'tiny.raw'), randomBytes(1_000_000));
    await lab.api('POST', '/v1/machines', { site: 'lab', hostname: 'crashy', arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac: mac(3) }] });
    await lab.api('POST', '/v1/machines/crashy/commission', { hwtest: false });
    t.is((await lab.simulator.powerOn({ mac: mac(3), fail: 'crash-mid-install' })).outcome, 'powered-off');
    await until('crashy ready', async () => (await lab.api('GET', '/v1/machines/crashy')).status === 'ready');
    await lab.api('POST', '/v1/machines/crashy/deploy', { image: 'tiny.raw' });
    lab.events.length = 0;
    t.is((await lab.simulator.powerOn({ mac: mac(3), fail: 'crash-mid-install' })).outcome, 'local-boot');
    const crash = lab.events.findIndex((e) => e.kind === 'crash');
    t.regex(lab.events[crash]?.detail ?? '', /died after 500000 bytes of the image/);
    t.true(lab.events.slice(crash).some((e) => e.kind === 'callback' && e.detail.startsWith('install-complete → 202')));
    await until('crashy deployed', async () => (await lab.api('GET', '/v1/machines/crashy')).status === 'deployed');

    // The CLI: its own relay address in the same network and port, JSON lines out.
    await lab.api('POST', '/v1/machines', { site: 'lab', hostname: 'by-cli', arch: 'x86_64', bootMode: 'uefi', interfaces: [{ mac: '52:54:00:77:0a:01' }] });
    await lab.api('POST', '/v1/machines/by-cli/commission', { hwtest: ['cpu-inventory'] });
    const { dhcp, relay, tftp } = lab.endpoints;
    const run = await lab.cli(
      'lab',
      'simulate',
      '--dhcp',
      `${dhcp.host}:${dhcp.port}`,
      '--relay',
      `127.77.3.2:${relay.port}`,
      '--tftp-port',
      String(tftp!.port),
      '--count',
      '1',
      '--mac-prefix',
      '52:54:00:77:0a',
      '--arch',
      'uefi',
      '--retry-delay',
      '300',
      '--timeout',
      '60',
      '--json',
    );
    t.is(run.code, 0, run.stdout + run.stderr);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    t.like(lines.at(-1), { mac: '52:54:00:77:0a:01', outcome: 'powered-off', expected: true });
    t.true(lines.some((l) => l.kind === 'tftp' && l.detail.startsWith('ipxe.efi')));
    t.true(lines.some((l) => l.kind === 'hwtest' && l.detail.startsWith('cpu-inventory passed')));
    await until('by-cli ready', async () => (await lab.api('GET', '/v1/machines/by-cli')).status === 'ready');
  },
);
