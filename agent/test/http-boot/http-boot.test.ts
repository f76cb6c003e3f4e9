import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AgentServiceFactory, SiteDesiredState } from '@sprout/kernel';
import { httpBootService } from '../../src/services/http-boot/index.ts';
import { MachineWaits } from '../../src/machine-waits.ts';
import { agentLeases } from '../../src/agent-leases.ts';
import { until } from '@sprout/test-support/until.ts';
import { requestFrom } from '@sprout/test-support/request-from.ts';

const run = promisify(execFile);
const quiet = { info() {}, warn() {}, error() {} };

/**
 * `leased`: the agent's DHCP service as HTTP boot sees it — every MAC leased to 127.0.0.1 (where
 * fetch sends from) unless told which MAC holds which address; 'no-dhcp' for an agent without one.
 */
async function start(t: any, extraSettings: Record<string, unknown> = {}, leased: Record<string, string> | 'everyone' | 'no-dhcp' = 'everyone') {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-httpboot-'));
  const root = join(dir, 'artifacts');
  mkdirSync(join(root, 'installer'), { recursive: true });
  const image = randomBytes(1_000_000);
  writeFileSync(join(root, 'installer', 'vmlinuz'), image);
  writeFileSync(join(dir, 'secret'), 'outside the root');
  symlinkSync(join(dir, 'secret'), join(root, 'escape'));
  const state: SiteDesiredState = {
    bootIntents: [
      { machineId: 'm-1', hostname: 'node-1', arch: 'x86_64', bootMode: 'bios', intent: 'commission', params: {}, workflow: 'wf-1', mac: '52:54:00:00:00:01' },
      { machineId: 'm-2', hostname: 'node-2', arch: 'x86_64', bootMode: 'uefi', intent: 'local', params: {}, workflow: null, mac: '52:54:00:00:00:02' },
      { machineId: 'm-3', hostname: 'node-3', arch: 'x86_64', bootMode: 'bios', intent: 'local', params: {}, workflow: null, mac: '52:54:00:00:00:03' },
      { machineId: 'm-4', hostname: 'node-4', arch: 'x86_64', bootMode: 'bios', intent: 'deploy', params: {}, workflow: 'wf-4', mac: '52:54:00:00:00:04' },
    ],
  };
  const reports: { kind: string; payload: Record<string, unknown> }[] = [];
  const waits = new MachineWaits(dir);
  waits.add({ machineId: 'm-1', workItemId: 'wi-7', workflowId: 'wf-1', step: 'commission', params: { hwtests: ['cpu-inventory'] } });
  const journaled: { workItemId: string; kind: string; payload: Record<string, unknown> }[] = [];
  const leases = agentLeases();
  if (leased !== 'no-dhcp') {
    leases.provide({
      addressOf: (mac) => (leased === 'everyone' ? '127.0.0.1' : leased[mac]),
      macAt: (address) => (leased === 'everyone' ? undefined : Object.keys(leased).find((mac) => leased[mac] === address)),
    });
  }
  let service: Awaited<ReturnType<AgentServiceFactory>> | undefined;
  // Registered first: a service refused at start (bad settings) leaves no folder behind either.
  t.teardown(async () => {
    await service?.stop();
    waits.flush();
    rmSync(dir, { recursive: true, force: true });
  });
  service = await httpBootService({
    waits,
    reportFor: (workItemId, kind, payload) => journaled.push({ workItemId, kind, payload }),
    // What the agent's store does: the machine's intent reads `local` from now on.
    markInstalled: (machineId) => {
      state.bootIntents = state.bootIntents!.map((b) => (b.machineId === machineId ? { ...b, intent: 'local' as const, params: {} } : b));
    },
  })({
    dataDir: dir,
    settings: { port: 0, address: '127.0.0.1', artifactRoot: root, ...extraSettings },
    desiredState: () => state,
    onDesiredState() {},
    report: (kind, payload) => reports.push({ kind, payload }),
    logger: quiet,
    leases,
  });
  const base = `http://127.0.0.1:${service.health().port}`;
  return { base, dir, image, reports, service, waits, journaled };
}

test('iPXE scripts follow the boot intent: installer with metadata, local disk per firmware, a reason for strangers', async (t) => {
  const { base, reports } = await start(t);
  const commission = await (await fetch(`${base}/boot/ipxe?mac=52-54-00-00-00-01`)).text();
  t.regex(commission, /^#!ipxe\n/);
  t.regex(
    commission,
    new RegExp(
      `kernel ${base}/artifacts/installer/vmlinuz initrd=initrd.img console=ttyS0 sprout.metadata=${base}/metadata/[\\w-]{32} sprout.intent=commission`,
    ),
  );
  t.regex(commission, new RegExp(`initrd ${base}/artifacts/installer/initrd.img`));
  t.regex(await (await fetch(`${base}/boot/ipxe?mac=52:54:00:00:00:02`)).text(), /\nexit 1\n$/, 'UEFI goes on to the disk with exit 1');
  t.regex(await (await fetch(`${base}/boot/ipxe?mac=52:54:00:00:00:03`)).text(), /\nexit\n$/);
  const stranger = await (await fetch(`${base}/boot/ipxe?mac=aa:aa:aa:aa:aa:aa`)).text();
  t.regex(stranger, /echo Sprout will not boot this machine: no boot intent for aa:aa:aa:aa:aa:aa/);
  const again = await (await fetch(`${base}/boot/ipxe?mac=aa:aa:aa:aa:aa:aa`)).text();
  t.is(again, stranger, 'a machine retrying is refused every time');
  t.deepEqual(
    reports,
    [
      {
        kind: 'boot.refused',
        payload: { mac: 'aa:aa:aa:aa:aa:aa', reason: 'no boot intent for aa:aa:aa:aa:aa:aa: this machine is unknown here or not being provisioned' },
      },
    ],
    'but reported once a minute',
  );
  t.is((await fetch(`${base}/boot/ipxe?mac=nonsense`)).status, 400);
});

test('a machine powered on before its step reached the agent waits in iPXE and asks again; once the step is here the same URL boots the installer', async (t) => {
  const { base, reports, service, waits } = await start(t);
  const early = await (await fetch(`${base}/boot/ipxe?mac=52:54:00:00:00:04`)).text();
  t.is(
    early,
    `#!ipxe\necho Sprout: node-4 is to deploy; waiting for this agent to be given its step\nsleep 3\nchain --replace --autofree ${base}/boot/ipxe?mac=52:54:00:00:00:04&waited=1\n`,
  );
  t.deepEqual(reports, [], 'waiting for a step is not a refusal');
  t.like(service.health(), { waiting: 1, refused: 0, scripts: 0 });
  t.regex(await (await fetch(`${base}/boot/ipxe?mac=52:54:00:00:00:04&waited=59`)).text(), /&waited=60\n$/);
  // Five minutes of waiting (the power-on step's timeout): the step is not coming, so it is refused after all.
  const gaveUp = await (await fetch(`${base}/boot/ipxe?mac=52:54:00:00:00:04&waited=60`)).text();
  t.regex(gaveUp, /Sprout will not boot this machine: node-4 is to deploy, but its step has not reached this agent in 5 minutes\nsleep 10\nexit\n$/);
  t.like(reports[0], { kind: 'boot.refused', payload: { mac: '52:54:00:00:00:04' } });
  // Asked while the step is on its way: the request is held and answered with the installer the moment the step arrives.
  const chained = /^chain --replace --autofree (\S+)$/m.exec(early)![1];
  const asked = Date.now();
  const held = fetch(chained).then((r) => r.text());
  setTimeout(() => waits.add({ machineId: 'm-4', workItemId: 'wi-9', workflowId: 'wf-4', step: 'install', params: {} }), 300);
  t.regex(await held, /sprout\.intent=deploy/);
  t.true(Date.now() - asked >= 300, 'answered after the step arrived, not before');
  t.like(service.health(), { waiting: 2, refused: 1, scripts: 1 });
});

test('real iPXE (ipxe.lkrn in QEMU) follows the wait script: it sleeps, asks again, and boots the installer once the step is here', async (t) => {
  // QEMU's user network with restrict=on: the guest reaches nothing but 10.0.2.100:80,
  // which QEMU hands, connection by connection, to a pipe into the service on loopback.
  const { dir, service, waits } = await start(t, { baseUrl: 'http://10.0.2.100' });
  const health = () => service.health() as { waiting: number; scripts: number; artifacts: number };
  const pipe = join(dir, 'pipe.mjs');
  const requests = join(dir, 'requests.log');
  // Every request line is noted (iPXE keeps connections alive), to see the URLs iPXE really asked for.
  writeFileSync(
    pipe,
    `import { connect } from 'node:net';\nimport { appendFileSync } from 'node:fs';\nconst s = connect(${service.health().port}, '127.0.0.1');\n` +
      `process.stdin.on('data', (d) => { for (const m of d.toString('latin1').matchAll(/^[A-Z]+ \\S+ HTTP\\/1\\.\\d/gm)) appendFileSync(${JSON.stringify(requests)}, m[0] + '\\n'); });\n` +
      `process.stdin.pipe(s);\ns.pipe(process.stdout);\ns.on('close', () => process.exit(0));\n`,
  );
  const mac = '52:54:00:00:00:04';
  const qemu = spawn(
    'qemu-system-x86_64',
    [
      '-kernel',
      '/usr/lib/ipxe/ipxe.lkrn',
      '-display',
      'none',
      '-serial',
      `file:${join(dir, 'serial.log')}`,
      '-m',
      '128',
      '-no-reboot',
      '-netdev',
      `user,id=n0,restrict=on,bootfile=http://10.0.2.100/boot/ipxe?mac=${mac},guestfwd=tcp:10.0.2.100:80-cmd:${process.execPath} ${pipe}`,
      '-device',
      `virtio-net-pci,netdev=n0,mac=${mac}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  qemu.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => qemu.once('exit', resolve));
  t.teardown(async () => {
    qemu.kill();
    await exited;
  });
  await until(
    'iPXE to ask for its script a second time, after the sleep',
    async () => health().waiting >= 2 || (qemu.exitCode !== null && Promise.reject(new Error(`qemu ended: ${stderr}`))),
    90_000,
  );
  t.is(health().scripts, 0);
  const asked = readFileSync(requests, 'utf8')
    .split('\n')
    .filter((l) => l.includes('/boot/ipxe'));
  t.regex(asked[0], /^GET \/boot\/ipxe\?mac=52(:|%3A)54/);
  t.regex(asked[1], /&waited=1 HTTP/, 'the chained URL arrives whole, & and all');
  waits.add({ machineId: 'm-4', workItemId: 'wi-9', workflowId: 'wf-4', step: 'install', params: {} });
  await until('iPXE to fetch the installer kernel the next script names', async () => health().artifacts >= 1, 30_000);
  t.like(health(), { scripts: 1 });
});

test('artifacts: whole and ranged downloads with a sha256 curl can check; paths out of the root are refused', async (t) => {
  const { base, image, service } = await start(t);
  const dir = mkdtempSync(join(tmpdir(), 'sprout-fetch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { stdout } = await run('curl', ['-s', '-D', '-', '-o', join(dir, 'whole'), `${base}/artifacts/installer/vmlinuz`]);
  const sha = createHash('sha256').update(image).digest('hex');
  t.regex(stdout, new RegExp(`x-sprout-sha256: ${sha}`, 'i'));
  t.regex(stdout, /content-length: 1000000/i);
  const part = await fetch(`${base}/artifacts/installer/vmlinuz`, { headers: { range: 'bytes=100-199' } });
  t.is(part.status, 206);
  t.is(part.headers.get('content-range'), 'bytes 100-199/1000000');
  t.deepEqual(Buffer.from(await part.arrayBuffer()), image.subarray(100, 200));
  t.is((await fetch(`${base}/artifacts/installer/vmlinuz`, { headers: { range: 'bytes=2000000-' } })).status, 416);
  for (const path of ['../secret', '%2e%2e/secret', 'escape', '/etc/passwd', 'installer/missing']) {
    const { stdout: code } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--path-as-is', `${base}/artifacts/${path}`]);
    t.is(code, '404', path);
  }
  t.true(Number(service.health().notFound) >= 4);
});

test("metadata and callbacks: only the waiting machine's token works, results become reports, completion revokes the token", async (t) => {
  const { base, waits, journaled } = await start(t);
  const token = waits.byMachine('m-1')!.token;
  const meta = await fetch(`${base}/metadata/${token}`);
  t.is(meta.status, 200);
  t.like(await meta.json(), {
    machine: { id: 'm-1', hostname: 'node-1' },
    workflow: 'wf-1',
    step: 'commission',
    hwtests: ['cpu-inventory'],
    callbacks: `${base}/callbacks/${token}`,
  });
  t.is((await fetch(`${base}/metadata/someone-elses-token`)).status, 403);
  const post = (event: string, body: unknown, as = token) =>
    fetch(`${base}/callbacks/${as}/${event}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  t.is((await post('hwtest-result', { name: 'cpu-inventory', status: 'passed', durationMs: 12, facts: { cpus: 4 } })).status, 202);
  t.is((await post('hwtest-result', { status: 'maybe' })).status, 400);
  t.is((await post('log', { lines: ['disk /dev/vda found'] }, 'x'.repeat(32))).status, 403);
  t.is((await post('commission-complete', { facts: { cpus: 4, memoryMiB: 2048 } })).status, 202);
  t.deepEqual(
    journaled.map((j) => [j.workItemId, j.kind]),
    [
      ['wi-7', 'task.log'],
      ['wi-7', 'machine.hwtest-result'],
      ['wi-7', 'task.succeeded'],
    ],
  );
  // The metadata fetch and every callback are the machine speaking: each report carries when.
  t.regex(String(journaled[0].payload.log), /fetched its metadata \(step commission\)/);
  for (const j of journaled) t.false(Number.isNaN(Date.parse(String(j.payload.machineHeardAt))), `${j.kind} carries machineHeardAt`);
  t.deepEqual(journaled[2].payload.result, { event: 'commission-complete', facts: { cpus: 4, memoryMiB: 2048 } });
  t.is((await fetch(`${base}/metadata/${token}`)).status, 403, 'the token stops working once the step ended');
  t.is((await post('log', { line: 'late' })).status, 403);
});

const from = requestFrom;

const leasedTo = { '52:54:00:00:00:01': '127.80.0.11', '52:54:00:00:00:02': '127.80.0.12' };

test('the script with a per-boot token goes only to the address DHCP leased the MAC: another source gets 403 and no token, X-Forwarded-For or not', async (t) => {
  const { base, reports, service, waits } = await start(t, {}, leasedTo);
  const token = waits.byMachine('m-1')!.token;
  const machine = await from('127.80.0.11', `${base}/boot/ipxe?mac=52:54:00:00:00:01`);
  t.is(machine.status, 200);
  t.true(machine.text.includes(`sprout.metadata=${base}/metadata/${token}`), machine.text);

  const attempts: { source: string; headers: Record<string, string> }[] = [
    { source: '127.80.0.99', headers: {} },
    { source: '127.80.0.12', headers: {} }, // another machine's lease
    { source: '127.80.0.99', headers: { 'x-forwarded-for': '127.80.0.11', 'x-real-ip': '127.80.0.11', forwarded: 'for=127.80.0.11' } },
    { source: '127.0.0.1', headers: { 'x-forwarded-for': '127.80.0.11' } },
  ];
  for (const { source, headers } of attempts) {
    const other = await from(source, `${base}/boot/ipxe?mac=52-54-00-00-00-01`, { headers });
    t.is(other.status, 403, source);
    t.is(
      other.text,
      `Sprout will not boot this machine: 52:54:00:00:00:01 is not leased to ${source}: a machine asks for its boot from the address it was leased\n`,
    );
    t.false(other.text.includes(token));
    t.false(other.text.includes('127.80.0.11'), 'the leased address is not told to whoever asks');
  }
  const unleased = await from('127.80.0.11', `${base}/boot/ipxe?mac=52:54:00:00:00:04`);
  t.is(unleased.status, 403);
  t.regex(unleased.text, /52:54:00:00:00:04 holds no lease from this agent's DHCP/);
  // Reported as refusals, once a minute per route, source, MAC and reason: the X-Forwarded-For retries add none.
  const refusals = reports.filter((r) => r.kind === 'boot.refused');
  t.deepEqual(
    refusals.map((r) => [r.payload.route, r.payload.source, r.payload.mac]),
    [
      ['script', '127.80.0.99', '52:54:00:00:00:01'],
      ['script', '127.80.0.12', '52:54:00:00:00:01'],
      ['script', '127.0.0.1', '52:54:00:00:00:01'],
      ['script', '127.80.0.11', '52:54:00:00:00:04'],
    ],
  );
  t.false(JSON.stringify(reports).includes(token));
  t.like(service.health(), { bootBinding: 'lease', scripts: 1, refused: 5, unbound: 5 });
});

test('metadata and callbacks refuse a valid token used from another address: nothing is journaled, and the machine at its lease still has it', async (t) => {
  const { base, journaled, reports, waits } = await start(t, {}, leasedTo);
  const token = waits.byMachine('m-1')!.token;
  const stolen = await from('127.80.0.99', `${base}/metadata/${token}`);
  t.is(stolen.status, 403);
  t.regex(stolen.text, /52:54:00:00:00:01 is not leased to 127\.80\.0\.99/);
  t.is((await from('127.80.0.99', `${base}/metadata/${token}?format=shell`, { headers: { 'x-forwarded-for': '127.80.0.11' } })).status, 403);
  for (const event of ['install-complete', 'commission-complete', 'failed', 'log', 'hwtest-result']) {
    const forged = await from('127.80.0.12', `${base}/callbacks/${token}/${event}`, {
      method: 'POST',
      body: { sha256: 'ab'.repeat(32), reason: 'forged', name: 'cpu-inventory', status: 'failed' },
    });
    t.is(forged.status, 403, event);
  }
  t.deepEqual(journaled, [], 'no forged callback moved the step');
  t.truthy(waits.byToken(token), 'and the token still works');
  t.deepEqual(
    reports.map((r) => [r.kind, r.payload.route, r.payload.source, r.payload.machineId]),
    [
      ['boot.refused', 'metadata', '127.80.0.99', 'm-1'],
      ['boot.refused', 'callback', '127.80.0.12', 'm-1'],
    ],
  );

  const meta = await from('127.80.0.11', `${base}/metadata/${token}`);
  t.is(meta.status, 200);
  t.like(JSON.parse(meta.text), { machine: { id: 'm-1' }, step: 'commission' });
  t.is((await from('127.80.0.11', `${base}/callbacks/${token}/commission-complete`, { method: 'POST', body: { facts: { cpus: 4 } } })).status, 202);
  t.deepEqual(
    journaled.map((j) => [j.workItemId, j.kind]),
    [
      ['wi-7', 'task.log'],
      ['wi-7', 'task.succeeded'],
    ],
    'only the machine at its lease was heard: its metadata fetch and its callback',
  );

  // A token whose machine no boot intent names (so no MAC, so no lease) works from nowhere.
  const orphan = waits.add({ machineId: 'm-9', workItemId: 'wi-11', workflowId: 'wf-9', step: 'install', params: {} }).token;
  const refused = await from('127.80.0.11', `${base}/metadata/${orphan}`);
  t.is(refused.status, 403);
  t.regex(refused.text, /no boot intent here names this machine's MAC/);
});

test('an agent with no DHCP service of its own refuses boots naming bindBootToLease, until the operator sets it false; a non-boolean is a config error', async (t) => {
  const bound = await start(t, {}, 'no-dhcp');
  const refused = await from('127.0.0.1', `${bound.base}/boot/ipxe?mac=52:54:00:00:00:01`);
  t.is(refused.status, 403);
  t.regex(refused.text, /this agent runs no DHCP service to say which address 52:54:00:00:00:01 was leased, and services\.http\.bindBootToLease is on/);
  t.is((await from('127.0.0.1', `${bound.base}/metadata/${bound.waits.byMachine('m-1')!.token}`)).status, 403);
  t.like(bound.service.health(), { bootBinding: 'no-dhcp-service' });

  const open = await start(t, { bindBootToLease: false }, 'no-dhcp');
  const script = await from('127.80.0.99', `${open.base}/boot/ipxe?mac=52:54:00:00:00:01`);
  t.is(script.status, 200);
  t.regex(script.text, /sprout\.metadata=/);
  t.like(open.service.health(), { bootBinding: 'off' });

  await t.throwsAsync(start(t, { bindBootToLease: 'yes' }), { message: 'services.http.bindBootToLease: true or false, not "yes"' });
});
