/**
 * A machine's life as it looks on the wire to the agent's HTTP boot service, driven by a
 * real control plane and a real agent: iPXE script → metadata with a per-boot token →
 * hardware test results → commission-complete → ready; deploy → install-complete →
 * deployed and a local-boot script; a failing hardware test → failed_testing naming it.
 */
import test from 'ava';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startServer, type LongRunning } from '@sprout/test-support/processes.ts';
import { siteLab, type SiteLab } from '@sprout/test-support/site-lab.ts';
import { until } from '@sprout/test-support/until.ts';
import { parse } from 'yaml';

interface Lab {
  cli: SiteLab['cli'];
  boot: string;
  artifacts: string;
  site: SiteLab;
  agent: LongRunning;
  /** Starts the agent again on the same data folder and ports. */
  restartAgent(): Promise<void>;
}

async function lab(t: any, subnet = '198.18.60'): Promise<Lab> {
  const site = await siteLab(t, subnet);
  mkdirSync(join(site.work, 'artifacts'));
  const httpPort = await freePort();
  // No DHCP service here (an external DHCP server's site): the test plays the machine from
  // 127.0.0.1, which no lease names, so the boot is not bound to a lease (docs/agents.md).
  const services = [`  http: { port: ${httpPort}, address: 127.0.0.1, artifactRoot: ${join(site.work, 'artifacts')}, bindBootToLease: false }`];
  const l: Lab = {
    cli: site.cli,
    boot: `http://127.0.0.1:${httpPort}`,
    artifacts: join(site.work, 'artifacts'),
    site,
    agent: await site.startAgent(services),
    async restartAgent() {
      await l.agent.stop('SIGKILL');
      l.agent = await site.startAgent(services);
    },
  };
  return l;
}

/** What a PXE-booted machine does: fetch its script, follow the metadata URL on the kernel line. */
async function bootInstaller(l: Lab, mac: string): Promise<{ metadata: any; callbacks: string }> {
  const script = await until('an installer script', async () => {
    const text = await (await fetch(`${l.boot}/boot/ipxe?mac=${mac}`)).text();
    return /sprout\.metadata=/.test(text) && text;
  });
  const url = /sprout\.metadata=(\S+)/.exec(script)![1];
  const metadata = await (await fetch(url)).json();
  return { metadata, callbacks: metadata.callbacks };
}

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The installed OS's first boot as cloud-init plays it: the seed's documents, then phone_home (a form POST). */
async function firstBoot(seedfrom: string) {
  const [meta, vendor] = await Promise.all(
    ['meta-data', 'vendor-data'].map(async (name) => {
      const answer = await fetch(`${seedfrom}${name}`);
      if (answer.status !== 200) throw new Error(`${name}: ${answer.status} ${await answer.text()}`);
      return parse(await answer.text());
    }),
  );
  const answer = await fetch(vendor.phone_home.url, {
    method: 'POST',
    body: new URLSearchParams({ hostname: meta['local-hostname'], instance_id: meta['instance-id'] }),
  });
  return { meta, vendor, status: answer.status };
}
const testKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl e2e@test';

async function machine(l: Lab, hostname: string) {
  return JSON.parse((await l.cli('machine', 'show', hostname, '--json')).stdout);
}

test.serial('commission with hardware tests → ready with facts; deploy → install-complete → deployed, then the script boots the local disk', async (t) => {
  const l = await lab(t);
  await l.cli('machine', 'create', 'node-1', '--site', 'lab', '--mac', '52:54:00:00:60:01', '--cpus', '2');
  const commission = JSON.parse((await l.cli('machine', 'commission', 'node-1', '--test', 'cpu-inventory', '--test', 'memory-size', '--json')).stdout);
  const { metadata, callbacks } = await bootInstaller(l, '52:54:00:00:60:01');
  t.like(metadata, {
    machine: { hostname: 'node-1' },
    step: 'commission',
    hwtests: ['cpu-inventory', 'memory-size'],
    network: { domain: 'lab.example', gateway: '198.18.60.1' },
  });
  t.regex(metadata.network.address, /^198\.18\.60\.\d+$/);
  t.is((await fetch(`${l.boot}/metadata/not-the-token-of-anyone`)).status, 403);
  t.is(
    (await post(`${callbacks}/hwtest-result`, { name: 'cpu-inventory', status: 'passed', durationMs: 20, output: '4 CPUs', facts: { cpus: 4 } })).status,
    202,
  );
  t.is(
    (await post(`${callbacks}/hwtest-result`, { name: 'memory-size', status: 'passed', durationMs: 5, output: '2048 MiB', facts: { memoryMiB: 2048 } })).status,
    202,
  );
  t.is((await post(`${callbacks}/commission-complete`, { facts: { cpus: 4, memoryMiB: 2048, disks: 1, diskBytes: 8589934592 } })).status, 202);
  const ready = await until('ready', async () => {
    const m = await machine(l, 'node-1');
    return m.status === 'ready' && m;
  });
  t.deepEqual(ready.hardware, { cpus: 4, memoryMiB: 2048, disks: 1, diskBytes: 8589934592 });
  t.deepEqual(
    ready.hardwareTests.map((h: any) => [h.name, h.status]),
    [
      ['cpu-inventory', 'passed'],
      ['memory-size', 'passed'],
    ],
  );
  t.is((await l.cli('workflow', 'watch', commission.id, '--timeout', '10')).code, 0);
  t.is((await post(`${callbacks}/log`, { line: 'late' })).status, 403, 'the token ended with the step');

  // The operator's user-data reaches the installer's metadata, and is not in what `workflow show` / `machine show` print.
  const userData = `#cloud-config\nruncmd:\n  - echo ${randomUUID()} > /etc/motd\n`;
  const userDataFile = join(l.artifacts, '..', 'user-data.yaml');
  writeFileSync(userDataFile, userData);
  // A key file as ssh-keygen writes it; a file that is no key is refused naming the entry, changing nothing.
  const keyFile = join(l.artifacts, '..', 'id_ed25519.pub');
  writeFileSync(keyFile, `${testKey}\n`);
  const notAKey = join(l.artifacts, '..', 'id_ed25519');
  writeFileSync(notAKey, '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n');
  const refused = await l.cli('machine', 'deploy', 'node-1', '--image', 'http://images.lab.example/debian-12.raw', '--ssh-key', notAKey);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /sshKeys\/0: not an OpenSSH public key line/);
  t.is((await machine(l, 'node-1')).status, 'ready');
  const deploy = JSON.parse(
    (
      await l.cli(
        'machine',
        'deploy',
        'node-1',
        '--image',
        'http://images.lab.example/debian-12.raw',
        '--user-data',
        userDataFile,
        '--ssh-key',
        keyFile,
        '--json',
      )
    ).stdout,
  );
  const install = await bootInstaller(l, '52:54:00:00:60:01');
  t.like(install.metadata, { step: 'install', image: { url: 'http://images.lab.example/debian-12.raw' } });
  t.is(install.metadata.userData, userData);
  for (const shown of [
    await l.cli('workflow', 'show', deploy.id, '--json'),
    await l.cli('workflow', 'show', deploy.id),
    await l.cli('machine', 'show', 'node-1', '--json'),
  ]) {
    t.is(shown.code, 0, shown.stderr);
    t.false(shown.stdout.includes(userData.split('\n')[2]), shown.stdout);
  }
  t.regex(
    (await l.cli('workflow', 'show', deploy.id)).stdout,
    new RegExp(`userData: ${Buffer.byteLength(userData)} bytes, sha256 ${createHash('sha256').update(userData).digest('hex')}`),
  );
  const read = await l.cli('workflow', 'user-data', deploy.id);
  t.is(read.code, 0, read.stderr);
  t.is(read.stdout, userData, 'sprout workflow user-data prints it byte for byte');
  t.is((await post(`${install.callbacks}/install-complete`, { sha256: 'ab'.repeat(32) })).status, 202);
  // the machine reboots at once, before the local-boot intent can arrive: it boots its disk anyway
  t.regex(await (await fetch(`${l.boot}/boot/ipxe?mac=52:54:00:00:60:01`)).text(), /node-1 boots from its local disk\nexit\n$/);
  // Its installed OS boots: cloud-init reads the seed the installer wrote, gets the key, the user-data as given, and phones home.
  t.is(await (await fetch(`${install.metadata.cloudInit.seedfrom}user-data`)).text(), userData);
  const booted = await firstBoot(install.metadata.cloudInit.seedfrom);
  t.like(booted, { meta: { 'instance-id': deploy.id, 'local-hostname': 'node-1' }, vendor: { ssh_authorized_keys: [testKey] }, status: 202 });
  const watched = await l.cli('workflow', 'watch', deploy.id, '--timeout', '30');
  t.is(watched.code, 0, watched.stdout);
  t.is((await machine(l, 'node-1')).status, 'deployed');
  const local = await until('a local-boot script', async () => {
    const text = await (await fetch(`${l.boot}/boot/ipxe?mac=52:54:00:00:60:01`)).text();
    return /boots from its local disk/.test(text) && text;
  });
  t.regex(local, /\nexit\n$/);
});

test.serial('a failing hardware test ends in failed_testing naming the test; a machine-reported failure keeps its reason', async (t) => {
  const l = await lab(t);
  await l.cli('machine', 'create', 'node-2', '--site', 'lab', '--mac', '52:54:00:00:60:02', '--memory-mib', '8192');
  await l.cli('machine', 'commission', 'node-2', '--test', 'memory-size');
  const { callbacks } = await bootInstaller(l, '52:54:00:00:60:02');
  // passed on the machine, but below the expected 8192 MiB: the hwtest provider fails it
  await post(`${callbacks}/hwtest-result`, { name: 'memory-size', status: 'passed', durationMs: 5, output: '2048 MiB', facts: { memoryMiB: 2048 } });
  await post(`${callbacks}/commission-complete`, { facts: { memoryMiB: 2048 } });
  const failed = await until('failed_testing', async () => {
    const m = await machine(l, 'node-2');
    return m.status === 'failed_testing' && m;
  });
  t.regex(failed.statusReason.message, /hardware tests failed: memory-size/);
  t.deepEqual(failed.statusReason.failedTests, ['memory-size']);
  t.regex(failed.hardwareTests[0].output, /expected memoryMiB >= 7782, found 2048/);
  const shown = await l.cli('machine', 'show', 'node-2');
  t.regex(shown.stdout, /^node-2\s+FAILED_TESTING\s+— commission failed in step commission: hardware tests failed: memory-size/);

  await l.cli('machine', 'create', 'node-3', '--site', 'lab', '--mac', '52:54:00:00:60:03');
  await l.cli('machine', 'commission', 'node-3', '--no-hwtest');
  const boot3 = await bootInstaller(l, '52:54:00:00:60:03');
  await post(`${boot3.callbacks}/failed`, { reason: 'no disk found: /dev/vda missing', log: ['lsblk: nothing'] });
  const failed3 = await until('failed_commissioning', async () => {
    const m = await machine(l, 'node-3');
    return m.status === 'failed_commissioning' && m;
  });
  t.regex(failed3.statusReason.message, /commission failed in step commission: no disk found: \/dev\/vda missing/);
  t.true(failed3.statusReason.logTail.includes('lsblk: nothing'));
});

/** Commissions `hostname` without hardware tests, as a machine would, and waits for ready. */
async function commissioned(l: Lab, hostname: string, mac: string): Promise<void> {
  await l.cli('machine', 'create', hostname, '--site', 'lab', '--mac', mac);
  await l.cli('machine', 'commission', hostname, '--no-hwtest');
  const { callbacks } = await bootInstaller(l, mac);
  await post(`${callbacks}/commission-complete`, { facts: { cpus: 1 } });
  await until(`${hostname} ready`, async () => (await machine(l, hostname)).status === 'ready');
}

test.serial('a named image is served by the agent with its sum; an installer reporting another sum fails the deploy naming both', async (t) => {
  const l = await lab(t);
  mkdirSync(join(l.artifacts, 'images'));
  const image = Buffer.alloc(256 * 1024, 7);
  writeFileSync(join(l.artifacts, 'images', 'tiny.raw'), image);
  const sum = createHash('sha256').update(image).digest('hex');

  await commissioned(l, 'node-5', '52:54:00:00:60:05');
  const badSum = await l.cli('machine', 'deploy', 'node-5', '--image', 'tiny.raw', '--image-sha256', 'not-hex');
  t.is(badSum.code, 1);
  t.regex(badSum.stderr, /imageSha256/);
  t.is((await machine(l, 'node-5')).status, 'ready', 'a refused request changes nothing');

  await l.cli('machine', 'deploy', 'node-5', '--image', 'tiny.raw');
  const { metadata, callbacks } = await bootInstaller(l, '52:54:00:00:60:05');
  t.deepEqual(metadata.image, { url: `${l.boot}/artifacts/images/tiny.raw`, sha256: sum, size: image.length });
  const served = Buffer.from(await (await fetch(metadata.image.url)).arrayBuffer());
  t.is(createHash('sha256').update(served).digest('hex'), sum);
  const token = callbacks.split('/').pop();
  const shell = await (await fetch(`${l.boot}/metadata/${token}?format=shell`)).text();
  t.true(shell.includes(`SPROUT_STEP='install'\n`));
  t.true(shell.includes(`SPROUT_IMAGE_SHA256='${sum}'\n`));
  t.true(shell.includes(`SPROUT_IMAGE_SIZE='${image.length}'\n`));
  t.true(shell.includes(`SPROUT_CALLBACKS='${callbacks}'\n`));

  const wrong = 'cd'.repeat(32);
  t.is((await post(`${callbacks}/install-complete`, { sha256: wrong })).status, 409);
  const failed = await until('failed_deployment', async () => {
    const m = await machine(l, 'node-5');
    return m.status === 'failed_deployment' && m;
  });
  t.true(failed.statusReason.message.includes(`image checksum mismatch: expected ${sum}, got ${wrong}`), failed.statusReason.message);
});

test.serial('deploying an image the site does not hold is refused at request time, naming the image, the site and what it has', async (t) => {
  const l = await lab(t);
  mkdirSync(join(l.artifacts, 'images'));
  writeFileSync(join(l.artifacts, 'images', 'present.raw'), Buffer.alloc(4096, 1));
  await commissioned(l, 'node-6', '52:54:00:00:60:06');
  // The agent's next heartbeat lists the file put there by hand.
  await until('present.raw reported', async () => (await l.cli('image', 'list', '--site', 'lab')).stdout.includes('present.raw'));
  const refused = await l.cli('machine', 'deploy', 'node-6', '--image', 'missing.raw');
  t.is(refused.code, 1);
  t.regex(refused.stderr, /image missing\.raw is not in the image store of site lab; it has: present\.raw/);
  t.is((await machine(l, 'node-6')).status, 'ready', 'nothing started: the machine never boots for it');
});

test.serial('an agent restarted between install-complete and the reboot still sends the machine to its disk; the deploy has no sync-site step', async (t) => {
  const l = await lab(t, '198.18.64');
  await l.cli('machine', 'create', 'node-9', '--site', 'lab', '--mac', '52:54:00:00:64:09');
  await l.cli('machine', 'commission', 'node-9', '--no-hwtest', '--json');
  const commissioned = await bootInstaller(l, '52:54:00:00:64:09');
  t.is((await post(`${commissioned.callbacks}/commission-complete`, { facts: { cpus: 1 } })).status, 202);
  await until('ready', async () => (await machine(l, 'node-9')).status === 'ready');
  const deploy = JSON.parse((await l.cli('machine', 'deploy', 'node-9', '--image', 'http://images.lab.example/debian-12.raw', '--json')).stdout);
  t.deepEqual(
    deploy.steps.map((s: any) => s.name),
    ['allocate-ip', 'reserve-dhcp', 'write-dns', 'publish-boot-intent', 'power-on', 'install', 'set-local-boot', 'boot-disk', 'first-boot'],
  );
  const install = await bootInstaller(l, '52:54:00:00:64:09');
  // The control plane goes away first, so the agent alone knows the machine installed.
  const { server } = l.site;
  await server.stop('SIGKILL', true);
  t.is((await post(`${install.callbacks}/install-complete`, { sha256: 'cd'.repeat(32) })).status, 202);
  // The agent dies and comes back before the machine reboots; the control plane is still away.
  await l.restartAgent();
  const script = await until('the restarted agent answers', async () => {
    try {
      return await (await fetch(`${l.boot}/boot/ipxe?mac=52:54:00:00:64:09`)).text();
    } catch {
      return false;
    }
  });
  t.regex(script, /node-9 boots from its local disk\nexit\n$/, 'the machine boots its disk, not the installer again');
  // The restarted agent still holds the installed OS's seed: its first boot reports.
  t.is((await firstBoot(install.metadata.cloudInit.seedfrom)).status, 202);
  // The control plane returns: the report is applied and the deploy ends.
  const again = await startServer(server.env, '', { dir: server.dir, port: server.port });
  t.teardown(() => again.stop());
  await until('deployed', async () => (await machine(l, 'node-9')).status === 'deployed', 60_000);
  t.regex(await (await fetch(`${l.boot}/boot/ipxe?mac=52:54:00:00:64:09`)).text(), /boots from its local disk/);
});
