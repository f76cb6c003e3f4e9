/**
 * The systemd units shipped in deploy/systemd, checked as systemd reads them
 * (`systemd-analyze verify`, with /opt/sprout pointed at this checkout) and against the
 * example configs beside them: what they start exists, they may write only the data
 * folders those configs name, and the agent holds no capability but binding low ports.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '@sprout/kernel';
import { agentConfigProblems, serviceSettingsProblems } from '@sprout/agent';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const unitsDir = join(repo, 'deploy', 'systemd');
const installedAt = '/opt/sprout/';

type Unit = Map<string, string[]>;

/** `Key=value` lines of every section, a repeated key kept in order (comments and blanks dropped). */
function readUnit(name: string): Unit {
  const unit: Unit = new Map();
  for (const line of readFileSync(join(unitsDir, name), 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) unit.set(m[1], [...(unit.get(m[1]) ?? []), m[2]]);
  }
  return unit;
}
const one = (unit: Unit, key: string) => unit.get(key)?.at(-1);
const within = (path: string, folder: string) => {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

test('systemd-analyze verify accepts both units, with no warning', (t) => {
  const which = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
  t.is(which.status, 0, 'systemd-analyze is needed (Debian package systemd; .ci/run installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'sprout-units-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const names = readdirSync(unitsDir).filter((f) => f.endsWith('.service'));
  t.deepEqual(names.sort(), ['sprout-agent.service', 'sprout-server.service']);
  for (const name of names) writeFileSync(join(dir, name), readFileSync(join(unitsDir, name), 'utf8').replaceAll(installedAt, repo));
  const verify = spawnSync('systemd-analyze', ['verify', ...names.map((n) => join(dir, n))], { encoding: 'utf8' });
  t.is(verify.status, 0, verify.stderr);
  t.is(verify.stderr.trim(), '', 'an unknown key or a missing command is only a warning to systemd: none may appear');
});

test('ExecStart runs the sprout binary of an installed tree, with commands and flags the CLI knows', (t) => {
  for (const [name, command] of [
    ['sprout-server.service', ['server']],
    ['sprout-agent.service', ['agent', 'run']],
  ] as const) {
    const [binary, ...args] = one(readUnit(name), 'ExecStart')!.split(/\s+/);
    t.true(binary.startsWith(installedAt), `${name}: ${binary} is under ${installedAt}`);
    const inRepo = join(repo, binary.slice(installedAt.length));
    t.notThrows(() => accessSync(inRepo, constants.X_OK), `${name}: ${inRepo} is executable`);
    t.deepEqual(args.slice(0, command.length), [...command], name);
    // The flags it passes exist: `--help` of that command lists each.
    const help = execFileSync(process.execPath, [inRepo, ...command, '--help'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    for (const flag of args.filter((a) => a.startsWith('--'))) t.true(help.includes(flag), `${name}: ${command.join(' ')} knows ${flag}`);
  }
});

test('each unit may write only the data folders its example config names; the agent holds only CAP_NET_BIND_SERVICE and (for the ra service radvd) CAP_NET_RAW', async (t) => {
  const server = readUnit('sprout-server.service');
  const agent = readUnit('sprout-agent.service');
  const serverConfig = loadConfig({ file: join(repo, 'deploy', 'config', 'sprout.yaml') }).config;
  t.deepEqual(server.get('ReadWritePaths'), [serverConfig.dataDir]);
  t.is(one(server, 'StateDirectory'), 'sprout');
  t.true(serverConfig.listen.startsWith('0.0.0.0:') && serverConfig.tls !== undefined, 'the example that binds every address serves TLS');

  const agentYaml = parseYaml(readFileSync(join(repo, 'deploy', 'config', 'agent.yaml'), 'utf8'));
  const writes = agent.get('ReadWritePaths') ?? [];
  t.deepEqual(writes, [agentYaml.dataDir]);
  t.true(within(agentYaml.services.http.artifactRoot, writes[0]), 'the images the agent imports land in a writable folder');
  t.is(one(agent, 'StateDirectory'), 'sprout-agent');

  // The example agent.yaml passes the agent's own checks (its CA file stood in for by a real one).
  const dir = mkdtempSync(join(tmpdir(), 'sprout-units-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
  t.deepEqual(agentConfigProblems({ ...agentYaml, ca: join(dir, 'ca.pem') }), []);
  t.deepEqual(await serviceSettingsProblems(agentYaml.services, join(dir, 'plugins')), []);

  t.is(one(server, 'CapabilityBoundingSet'), '');
  t.is(one(server, 'AmbientCapabilities'), '');
  t.is(one(agent, 'CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE CAP_NET_RAW');
  t.is(one(agent, 'AmbientCapabilities'), 'CAP_NET_BIND_SERVICE CAP_NET_RAW');
  for (const [name, unit] of [
    ['server', server],
    ['agent', agent],
  ] as const) {
    t.like(
      Object.fromEntries([...unit].map(([k, v]) => [k, v.at(-1)])),
      { NoNewPrivileges: 'yes', ProtectSystem: 'strict', PrivateTmp: 'yes', ProtectHome: 'yes' },
      name,
    );
    t.is(one(unit, 'Restart'), 'on-failure', name);
  }
  t.is(one(server, 'ExecReload'), '/bin/kill -HUP $MAINPID', 'reload = SIGHUP = new TLS certificate');
});
