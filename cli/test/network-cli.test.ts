/**
 * `sprout network …` and `sprout ip …` as an operator runs them: real processes against
 * a real `sprout server` on the embedded store, human tables and --json.
 */
import test from 'ava';
import { startServer, sprout, type ServerProcess } from '@sprout/test-support/processes.ts';

let server: ServerProcess;
const run = (...args: string[]) => sprout(args, { cwd: server.dir, env: server.env });
const runAs = (token: string, ...args: string[]) =>
  sprout(args, { cwd: server.dir, env: { ...server.env, SPROUT_URL: `http://127.0.0.1:${server.port}`, SPROUT_TOKEN: token } });

test.before(async () => {
  server = await startServer();
  const site = await run('site', 'create', 'dc1', '--json');
  if (site.code !== 0) throw new Error(site.stderr);
});
test.after.always(async () => {
  await server?.stop();
});

test.serial('--help lists the network and ip commands', async (t) => {
  const help = await run('--help');
  for (const command of [
    'sprout network create',
    'sprout network list',
    'sprout network show',
    'sprout network update',
    'sprout network delete',
    'sprout ip allocate',
    'sprout ip list',
    'sprout ip release',
  ]) {
    t.true(help.stdout.includes(command), `${command} missing from --help`);
  }
  const usage = await run('network', 'create', '-h');
  t.regex(usage.stdout, /--dynamic/);
  t.regex(usage.stdout, /sprout network create --site dc1 --name prov/);
});

test.serial('network create takes ranges, DNS servers, domain, VLAN and --no-pxe; bad input names the field', async (t) => {
  const created = await run(
    'network',
    'create',
    '--site',
    'dc1',
    '--name',
    'prov',
    '--cidr',
    '198.18.0.0/24',
    '--gateway',
    '198.18.0.1',
    '--dns',
    '198.18.0.2',
    '--dns',
    '198.18.0.3',
    '--domain',
    'dc1.example',
    '--vlan',
    '10',
    '--dynamic',
    '198.18.0.100-198.18.0.199',
    '--reserved',
    '198.18.0.2-198.18.0.9',
    '--json',
  );
  t.is(created.code, 0, created.stderr);
  t.like(JSON.parse(created.stdout), {
    name: 'prov',
    site: { name: 'dc1' },
    cidr: '198.18.0.0/24',
    dnsServers: ['198.18.0.2', '198.18.0.3'],
    domain: 'dc1.example',
    vlan: 10,
    pxe: true,
  });

  const storage = await run('network', 'create', '--site', 'dc1', '--name', 'storage', '--cidr', '198.18.8.0/22', '--gateway', '198.18.8.1', '--no-pxe');
  t.is(storage.code, 0, storage.stderr);
  t.regex(storage.stdout, /^created network storage at site dc1: 198\.18\.8\.0\/22 via 198\.18\.8\.1 \(id [0-9a-f-]+\)$/m);

  const badRange = await run(
    'network',
    'create',
    '--site',
    'dc1',
    '--name',
    'x',
    '--cidr',
    '198.18.16.0/24',
    '--gateway',
    '198.18.16.1',
    '--dynamic',
    '198.18.16.5',
  );
  t.is(badRange.code, 1);
  t.regex(badRange.stderr, /--dynamic 198\.18\.16\.5: expected START-END/);

  const hostBits = await run('network', 'create', '--site', 'dc1', '--name', 'x', '--cidr', '198.18.16.7/24', '--gateway', '198.18.16.1');
  t.is(hostBits.code, 1);
  t.regex(hostBits.stderr, /\(SPROUT_ERR_VALIDATION, HTTP 400\)/);
  t.regex(hostBits.stderr, /body\/cidr: 198\.18\.16\.7\/24 has host bits set; the network address of that block is 198\.18\.16\.0\/24/);

  const overlap = await run('network', 'create', '--site', 'dc1', '--name', 'x', '--cidr', '198.18.0.128/25', '--gateway', '198.18.0.129', '--json');
  t.is(overlap.code, 1);
  t.like(JSON.parse(overlap.stdout), { status: 409, code: 'SPROUT_ERR_CONFLICT' });
  t.regex(JSON.parse(overlap.stdout).detail, /overlaps network prov \(198\.18\.0\.0\/24\)/);

  const list = await run('network', 'list', '--site', 'dc1');
  t.regex(list.stdout, /^NAME\s+SITE\s+CIDR\s+GATEWAY\s+VLAN\s+PXE\s+DOMAIN\s+RANGES$/m);
  t.regex(
    list.stdout,
    /^prov\s+dc1\s+198\.18\.0\.0\/24\s+198\.18\.0\.1\s+10\s+yes\s+dc1\.example\s+reserved 198\.18\.0\.2-198\.18\.0\.9, dynamic 198\.18\.0\.100-198\.18\.0\.199$/m,
  );
  t.regex(list.stdout, /^storage\s+dc1\s+198\.18\.8\.0\/22\s+198\.18\.8\.1\s+-\s+no\s+/m);
  t.deepEqual(
    JSON.parse((await run('network', 'list', '--json')).stdout).map((n: { name: string }) => n.name),
    ['prov', 'storage'],
  );
});

test.serial('ip allocate, list and release, and network show counts them', async (t) => {
  const machine = await run('machine', 'create', 'node-01', '--site', 'dc1', '--mac', '52:54:00:cc:00:01', '--mac', '52:54:00:cc:00:02', '--json');
  t.is(machine.code, 0, machine.stderr);
  const machineId = JSON.parse(machine.stdout).id;

  const forMachine = await run('ip', 'allocate', 'prov', '--machine', 'node-01', '--interface', '52:54:00:CC:00:02', '--json');
  t.is(forMachine.code, 0, forMachine.stderr);
  t.like(JSON.parse(forMachine.stdout), { address: '198.18.0.10', machineId, hostname: 'node-01', provider: 'ipam-builtin' });

  const vip = await run('ip', 'allocate', 'prov', '--address', '198.18.0.50', '--hostname', 'vip');
  t.is(vip.code, 0, vip.stderr);
  t.regex(vip.stdout, /^allocated 198\.18\.0\.50 in network prov for vip \(id [0-9a-f-]+, provider ipam-builtin\)$/m);

  const taken = await run('ip', 'allocate', 'prov', '--address', '198.18.0.50');
  t.is(taken.code, 1);
  t.regex(taken.stderr, /198\.18\.0\.50 is already allocated to vip .*\(SPROUT_ERR_CONFLICT, HTTP 409\)/);
  const inRange = await run('ip', 'allocate', 'prov', '--address', '198.18.0.150');
  t.regex(inRange.stderr, /inside the dynamic range 198\.18\.0\.100-198\.18\.0\.199/);

  const show = await run('network', 'show', 'prov');
  t.is(show.code, 0, show.stderr);
  t.regex(show.stdout, /^prov {2}198\.18\.0\.0\/24 {2}\(site dc1\)$/m);
  t.regex(show.stdout, /^ {2}dynamic\s+198\.18\.0\.100-198\.18\.0\.199\s+100 addresses$/m);
  t.regex(show.stdout, /USABLE\s+ALLOCATED\s+DYNAMIC\s+RESERVED\s+GATEWAY\s+FREE\s+USED\n254\s+2\s+100\s+8\s+1\s+143\s+44%/);
  t.deepEqual(JSON.parse((await run('network', 'show', 'prov', '--json')).stdout).utilisation, {
    total: 254,
    allocated: 2,
    dynamic: 100,
    reserved: 8,
    free: 143,
  });

  const list = await run('ip', 'list', 'prov');
  t.regex(list.stdout, /^ADDRESS\s+HOSTNAME\s+MACHINE\s+INTERFACE\s+PROVIDER\s+ID$/m);
  // names, not UUIDs: the machine's hostname and the interface's name
  t.regex(list.stdout, /^198\.18\.0\.10\s+node-01\s+node-01\s+eth1\s+ipam-builtin/m);
  t.like(
    JSON.parse((await run('ip', 'list', 'prov', '--json')).stdout).find((a: any) => a.address === '198.18.0.10'),
    { machineId, machineHostname: 'node-01', interfaceName: 'eth1' },
  );

  // machine show lists the machine's addresses, and finds it by a MAC or a short id
  const shown = await run('machine', 'show', '52:54:00:CC:00:02');
  t.is(shown.code, 0, shown.stderr);
  t.regex(shown.stdout, /^node-01 /);
  t.regex(shown.stdout, /^ADDRESS\s+NETWORK\s+INTERFACE\n198\.18\.0\.10\s+prov\s+eth1$/m);
  t.deepEqual(JSON.parse((await run('machine', 'show', machineId.slice(0, 8), '--json')).stdout).addresses, [
    { address: '198.18.0.10', network: 'prov', interface: 'eth1' },
  ]);
  const unknownMac = await run('machine', 'show', '52:54:00:cc:00:99');
  t.is(unknownMac.code, 1);
  t.regex(unknownMac.stderr, /no machine "52:54:00:cc:00:99"/);
  t.regex(list.stdout, /^198\.18\.0\.50\s+vip\s+-\s+-\s+ipam-builtin/m);

  const byAddress = await run('ip', 'release', 'prov', '198.18.0.50');
  t.is(byAddress.code, 0, byAddress.stderr);
  t.regex(byAddress.stdout, /^released 198\.18\.0\.50 from network prov/m);
  const byId = await run('ip', 'release', 'prov', JSON.parse(forMachine.stdout).id, '--json');
  t.is(JSON.parse(byId.stdout).address, '198.18.0.10');
  const again = await run('ip', 'release', 'prov', '198.18.0.50');
  t.is(again.code, 1);
  t.regex(again.stderr, /198\.18\.0\.50 is not allocated in network prov/);
  t.deepEqual(JSON.parse((await run('ip', 'list', 'prov', '--json')).stdout), []);
  t.regex((await run('ip', 'list', 'prov')).stdout, /no addresses allocated in prov/);
});

test.serial('a viewer may look but not allocate', async (t) => {
  const token = JSON.parse((await run('token', 'create', '--role', 'viewer', '--name', 'netview', '--json')).stdout).secret;
  t.is((await runAs(token, 'network', 'show', 'prov')).code, 0);
  const denied = await runAs(token, 'ip', 'allocate', 'prov');
  t.is(denied.code, 1);
  t.regex(denied.stderr, /token:netview has role viewer; ip\.allocate needs operator \(SPROUT_ERR_FORBIDDEN, HTTP 403\)/);
});

test.serial(
  'network update changes only the flags given, replaces ranges and DNS servers, and names what blocks it; network delete refuses while addresses are allocated',
  async (t) => {
    const created = await run(
      'network',
      'create',
      '--site',
      'dc1',
      '--name',
      'edit',
      '--cidr',
      '198.18.40.0/24',
      '--gateway',
      '198.18.40.1',
      '--domain',
      'old.example',
      '--dynamic',
      '198.18.40.100-198.18.40.199',
      '--json',
    );
    t.is(created.code, 0, created.stderr);

    const updated = await run(
      'network',
      'update',
      'edit',
      '--site',
      'dc1',
      '--domain',
      'new.example',
      '--dns',
      '198.18.40.53',
      '--range',
      'dynamic:198.18.40.150-198.18.40.160',
      '--range',
      'reserved:198.18.40.2-198.18.40.5',
      '--no-pxe',
      '--json',
    );
    t.is(updated.code, 0, updated.stderr);
    t.like(JSON.parse(updated.stdout), {
      name: 'edit',
      cidr: '198.18.40.0/24',
      gateway: '198.18.40.1',
      domain: 'new.example',
      dnsServers: ['198.18.40.53'],
      pxe: false,
      ranges: [
        { kind: 'reserved', start: '198.18.40.2', end: '198.18.40.5' },
        { kind: 'dynamic', start: '198.18.40.150', end: '198.18.40.160' },
      ],
    });
    const renamed = await run('network', 'update', 'edit', '--name', 'edited', '--gateway', '198.18.40.254', '--clear-ranges', '--clear-domain');
    t.is(renamed.code, 0, renamed.stderr);
    t.regex(renamed.stdout, /^updated network edited at site dc1: 198\.18\.40\.0\/24 via 198\.18\.40\.254 \(id [0-9a-f-]+\)$/m);
    t.like(JSON.parse((await run('network', 'show', 'edited', '--json')).stdout), { ranges: [], domain: null, dnsServers: ['198.18.40.53'] });

    const badRange = await run('network', 'update', 'edited', '--range', 'pool:198.18.40.2-198.18.40.9');
    t.is(badRange.code, 1);
    t.regex(badRange.stderr, /--range pool:198\.18\.40\.2-198\.18\.40\.9: expected KIND:START-END with KIND dynamic or reserved/);
    const nothing = await run('network', 'update', 'edited');
    t.is(nothing.code, 1);
    t.regex(nothing.stderr, /nothing to change/);
    const both = await run('network', 'update', 'edited', '--domain', 'x.example', '--clear-domain');
    t.is(both.code, 1);
    t.regex(both.stderr, /--domain and its --clear-… flag contradict each other/);

    t.is((await run('ip', 'allocate', 'edited', '--address', '198.18.40.20', '--hostname', 'pinned')).code, 0);
    const moved = await run('network', 'update', 'edited', '--cidr', '198.18.44.0/24', '--gateway', '198.18.44.1');
    t.is(moved.code, 1);
    t.regex(
      moved.stderr,
      /keeps its CIDR 198\.18\.40\.0\/24 while addresses are allocated in it: 1 allocation\(s\): 198\.18\.40\.20 \(pinned\).*\(SPROUT_ERR_CONFLICT, HTTP 409\)/,
    );
    const covered = await run('network', 'update', 'edited', '--range', 'dynamic:198.18.40.10-198.18.40.30', '--json');
    t.is(covered.code, 1);
    t.like(JSON.parse(covered.stdout), { status: 409, code: 'SPROUT_ERR_CONFLICT', errors: [{ field: 'body/ranges', count: 1 }] });

    const refused = await run('network', 'delete', 'edited', '--site', 'dc1');
    t.is(refused.code, 1);
    t.regex(refused.stderr, /network edited at site dc1 still has allocated addresses: 1 allocation\(s\): 198\.18\.40\.20 \(pinned\); release them first/);
    t.is((await run('ip', 'release', 'edited', '198.18.40.20')).code, 0);
    const deleted = await run('network', 'delete', 'edited', '--site', 'dc1', '--json');
    t.is(deleted.code, 0, deleted.stderr);
    t.deepEqual(JSON.parse(deleted.stdout), { deleted: 'edited', site: 'dc1' });
    const gone = await run('network', 'show', 'edited');
    t.is(gone.code, 1);
    t.regex(gone.stderr, /no network "edited"/);
    t.regex((await run('network', 'delete', 'edited')).stderr, /no network "edited".*\(SPROUT_ERR_NOT_FOUND, HTTP 404\)/);
  },
);
