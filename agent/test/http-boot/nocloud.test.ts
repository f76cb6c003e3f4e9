/**
 * The installed system's cloud-init datasource and first-boot report at the agent: the
 * install's metadata names the seed, the seed answers only after install-complete and only
 * to the machine's leased address (which is its IPAM address), its documents parse as YAML
 * with the hostname, FQDN, static network, SSH keys and untouched user-data, and phone_home
 * (a form POST, sent here by curl) ends the first-boot step — or its deadline fails it
 * naming the last thing heard.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import type { AgentTaskContext, SiteDesiredState, WorkItem } from '@sprout/kernel';
import { httpBootService } from '../../src/services/http-boot/index.ts';
import { MachineWaits, waitForMachine } from '../../src/machine-waits.ts';
import { firstBootTask, watchFirstBootDeadlines } from '../../src/first-boot.ts';
import { agentLeases } from '../../src/agent-leases.ts';
import { requestFrom } from '@sprout/test-support/request-from.ts';
import { until } from '@sprout/test-support/until.ts';

const run = promisify(execFile);
const quiet = { info() {}, warn() {}, error() {} };
const MAC = '52:54:00:00:00:0a';
const LEASED = '127.0.0.10';
const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl e2e@test';
const userData = '#cloud-config\nwrite_files:\n  - path: /etc/sprout-e2e\n    content: "42"\n';

async function start(t: any) {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-nocloud-'));
  mkdirSync(join(dir, 'artifacts'));
  const state = {
    networks: [
      {
        id: 'n-1',
        name: 'prov',
        cidr: '198.18.7.0/24',
        gateway: '198.18.7.1',
        dnsServers: ['198.18.7.2', '198.18.7.3'],
        domain: 'lab.example',
        pxe: true,
        ranges: [],
      },
    ],
    // The IPAM allocation is the DHCP reservation: the address the agent's DHCP leases the MAC.
    reservations: [{ networkId: 'n-1', mac: MAC, address: LEASED, hostname: 'node-10', netboot: true }],
    bootIntents: [{ machineId: 'm-10', hostname: 'node-10', arch: 'x86_64', bootMode: 'bios', intent: 'deploy', params: {}, workflow: 'wf-10', mac: MAC }],
  } as unknown as SiteDesiredState;
  const waits = new MachineWaits(dir);
  const journaled: { workItemId: string; kind: string; payload: Record<string, unknown> }[] = [];
  const reportFor = (workItemId: string, kind: string, payload: Record<string, unknown>) => journaled.push({ workItemId, kind, payload });
  const leases = agentLeases();
  leases.provide({
    addressOf: (mac) => (mac === MAC ? state.reservations!.find((r) => r.mac === mac)!.address : undefined),
    macAt: (a) => (a === LEASED ? MAC : undefined),
  });
  let service: any;
  t.teardown(async () => {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  service = await httpBootService({ waits, reportFor, markInstalled() {} })({
    dataDir: dir,
    settings: { port: 0, address: '127.0.0.1', artifactRoot: join(dir, 'artifacts') },
    desiredState: () => state,
    onDesiredState() {},
    report() {},
    logger: quiet,
    leases,
  } as any);
  const base = `http://127.0.0.1:${service.health().port}`;
  const ctx = { log() {} } as unknown as AgentTaskContext;
  const item = (id: string, step: string, params: Record<string, unknown>) =>
    ({ id, workflowId: 'wf-10', kind: step, payload: { machine: 'm-10', step, params } }) as unknown as WorkItem;
  // The install step as the agent runs it, then the installer's metadata fetch.
  await waitForMachine(waits)(item('wi-install', 'install', { image: 'http://images.example/x.raw', userData, sshKeys: [key], firstBootSeconds: 900 }), ctx);
  const installToken = waits.byMachine('m-10')!.token;
  const meta = await requestFrom(LEASED, `${base}/metadata/${installToken}`);
  const seed = JSON.parse(meta.text).cloudInit.seedfrom as string;
  return { base, waits, journaled, reportFor, installToken, seed, ctx, item };
}

test('the seed answers the leased (= static) address only after install-complete; its documents carry hostname, FQDN, network, keys and the user-data untouched', async (t) => {
  const { base, seed, installToken } = await start(t);
  t.regex(seed, new RegExp(`^${base}/nocloud/[\\w-]{32}/$`));
  t.is((await requestFrom(LEASED, `${seed}meta-data`)).status, 403, 'no seed while the installer is still writing');
  t.is((await requestFrom(LEASED, `${base}/callbacks/${installToken}/install-complete`, { method: 'POST', body: {} })).status, 202);
  t.is(
    (await requestFrom(LEASED, `${base}/callbacks/${installToken}/log`, { method: 'POST', body: { line: 'x' } })).status,
    403,
    'the installer token ended with the install',
  );

  // curl from another address on the same host: refused, as every boot route is.
  const stranger = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--interface', '127.0.0.11', `${seed}meta-data`]);
  t.is(stranger.stdout, '403');
  const fetch = async (name: string) => (await run('curl', ['-sf', '--interface', LEASED, `${seed}${name}`])).stdout;

  const meta = parse(await fetch('meta-data'));
  t.is(meta['instance-id'], 'wf-10');
  t.is(meta['local-hostname'], 'node-10');
  t.is(
    meta['network-interfaces'],
    'auto eth0\niface eth0 inet static\n  hwaddress ether 52:54:00:00:00:0a\n  address 127.0.0.10/24\n  gateway 198.18.7.1\n  dns-nameservers 198.18.7.2 198.18.7.3\n  dns-search lab.example\n',
  );
  t.is(await fetch('user-data'), userData, 'user-data byte for byte');
  const vendorText = await fetch('vendor-data');
  t.true(vendorText.startsWith('#cloud-config\n'));
  const vendor = parse(vendorText);
  t.like(vendor, { hostname: 'node-10', fqdn: 'node-10.lab.example', ssh_authorized_keys: [key], users: ['default'] });
  t.deepEqual(vendor.phone_home, { url: `${base}/callbacks/${seed.split('/').at(-2)}/first-boot`, post: ['hostname', 'instance_id'], tries: 10 });
  const v2 = parse(await fetch('network-config'));
  t.deepEqual(v2.ethernets.eth0, {
    match: { macaddress: MAC },
    'set-name': 'eth0',
    addresses: ['127.0.0.10/24'],
    routes: [{ to: 'default', via: '198.18.7.1' }],
    nameservers: { addresses: ['198.18.7.2', '198.18.7.3'], search: ['lab.example'] },
  });
  t.is((await requestFrom(LEASED, `${seed}other`)).status, 404);
});

test('phone_home before the first-boot step reaches the agent: the step ends at once; after it: the callback ends it', async (t) => {
  const { base, seed, installToken, waits, journaled, ctx, item } = await start(t);
  await requestFrom(LEASED, `${base}/callbacks/${installToken}/install-complete`, { method: 'POST', body: {} });
  const phone = seed.replace('/nocloud/', '/callbacks/').replace(/\/$/, '/first-boot');
  const early = await run('curl', [
    '-s',
    '-w',
    '%{http_code}',
    '-o',
    '/dev/null',
    '--interface',
    LEASED,
    '-d',
    'hostname=node-10',
    '-d',
    'instance_id=wf-10',
    phone,
  ]);
  t.is(early.stdout, '202');
  const result = await firstBootTask(waits)(item('wi-fb', 'first-boot', { firstBootSeconds: 900 }), ctx);
  t.like(result, { event: 'first-boot' });
  t.is(waits.byMachine('m-10'), undefined, 'the seed token ends with the deploy');
  t.is((await requestFrom(LEASED, `${seed}meta-data`)).status, 403);

  // Another deploy of the machine: the step first, then the call.
  await waitForMachine(waits)(item('wi-install-2', 'install', { image: 'http://images.example/y.raw' }), ctx);
  const token2 = waits.byMachine('m-10')!.token;
  const seed2 = JSON.parse((await requestFrom(LEASED, `${base}/metadata/${token2}`)).text).cloudInit.seedfrom as string;
  await requestFrom(LEASED, `${base}/callbacks/${token2}/install-complete`, { method: 'POST', body: {} });
  t.is(await firstBootTask(waits)(item('wi-fb-2', 'first-boot', {}), ctx), (await import('../../src/machine-waits.ts')).deferred);
  const late = await run('curl', [
    '-s',
    '-w',
    '%{http_code}',
    '-o',
    '/dev/null',
    '--interface',
    LEASED,
    '-d',
    'hostname=node-10',
    seed2.replace('/nocloud/', '/callbacks/').replace(/\/$/, '/first-boot'),
  ]);
  t.is(late.stdout, '202');
  t.like(
    journaled.find((j) => j.workItemId === 'wi-fb-2'),
    { kind: 'task.succeeded', payload: { result: { event: 'first-boot', hostname: 'node-10' } } },
  );
});

test('an installed OS that never calls back fails the first-boot step at its deadline, naming the last thing heard', async (t) => {
  const { base, seed, installToken, waits, journaled, reportFor, ctx, item } = await start(t);
  await requestFrom(LEASED, `${base}/callbacks/${installToken}/install-complete`, { method: 'POST', body: {} });
  await requestFrom(LEASED, `${seed}meta-data`);
  const stop = watchFirstBootDeadlines(waits, reportFor, 50);
  t.teardown(stop);
  await firstBootTask(waits)(item('wi-fb', 'first-boot', { firstBootSeconds: 0.5 }), ctx);
  const failed = await until('the first-boot step fails', async () => journaled.find((j) => j.workItemId === 'wi-fb' && j.kind === 'task.failed'), 10_000);
  t.regex(String(failed.payload.error), /^the installer finished at \S+; cloud-init fetched its meta-data at \S+; the installed OS never called back/);
  t.is((await requestFrom(LEASED, `${seed}meta-data`)).status, 403);
});
