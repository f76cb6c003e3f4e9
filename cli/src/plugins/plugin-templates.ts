/**
 * The files `sprout plugin new` writes: a plugin package that declares itself in its
 * package.json, provides its capability (or none: an extension), contributes a report
 * route and a `sprout <noun> report` command, and tests itself — with the capability's
 * shared contract suite where the kernel has one — including booting a real kernel
 * with the package in its plugin directory.
 */

export interface PluginTemplateInput {
  packageName: string;
  /** The plugin id, also the noun of its commands. */
  id: string;
  /** `none` for an extension that provides no capability. */
  capability: ScaffoldCapability;
  kernelVersion: string;
  kernelApiVersion: string;
  typeboxVersion: string;
}

export const scaffoldCapabilities = ['hwtest', 'dns', 'dhcp', 'none'] as const;
export type ScaffoldCapability = (typeof scaffoldCapabilities)[number];

const pascal = (id: string) =>
  id
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
const caret = (version: string) => `^${version.split('.').slice(0, 2).join('.')}.0`;

export function pluginFiles(input: PluginTemplateInput): Record<string, string> {
  return {
    'package.json': packageJson(input),
    'src/index.ts': entry(input),
    'src/commands.ts': commands(input),
    [`test/${input.id}.test.ts`]: testFile(input),
    'README.md': readme(input),
    '.gitignore': 'node_modules/\n',
  };
}

function packageJson(input: PluginTemplateInput): string {
  const { packageName, id, capability } = input;
  const pkg = {
    name: packageName,
    version: '0.1.0',
    description: descriptionOf(input),
    type: 'module',
    exports: { '.': './src/index.ts' },
    files: ['src', 'README.md'],
    keywords: ['sprout-plugin'],
    sprout: {
      id,
      provides: capability === 'none' ? [] : [capability],
      consumes: [],
      apiVersion: caret(input.kernelApiVersion),
      commands: './src/commands.ts',
    },
    peerDependencies: { '@sprout/kernel': caret(input.kernelVersion), typebox: caret(input.typeboxVersion) },
    // The tests boot a kernel with the server's builtin plugins, as \`sprout server\` does.
    devDependencies: { '@sprout/cli': caret(input.kernelVersion) },
    scripts: { test: 'ava' },
    ava: { files: ['test/**/*.test.ts'], extensions: { ts: 'module' }, nodeArguments: ['--import=tsx'], workerThreads: false, timeout: '2m' },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

function descriptionOf({ id, capability }: PluginTemplateInput): string {
  switch (capability) {
    case 'hwtest':
      return `Sprout plugin ${id}: a hardware test run during commissioning, with a report command.`;
    case 'dns':
      return `Sprout plugin ${id}: a DNS provider, with a report command.`;
    case 'dhcp':
      return `Sprout plugin ${id}: a DHCP reservation provider, with a report command.`;
    case 'none':
      return `Sprout plugin ${id}: an extension with hook taps, a route and a report command.`;
  }
}

function entry(input: PluginTemplateInput): string {
  const { id, capability } = input;
  const route = (body: string) => `    // Mounted under /v1/plugins/${id}/; every route says who may call it.
    ctx.routes(async (app) => {
      app.get('/report', { config: { auth: { role: 'viewer' } }, schema: { summary: '${pascal(id)} report', tags: ['${id}'] } }, async () => (${body}));
    });`;
  if (capability === 'hwtest') {
    return `/**
 * ${descriptionOf(input)} The hwtest capability takes many providers: the test
 * named here joins the builtin ones in every commissioning that runs hardware tests.
 */
import Type, { type Static } from 'typebox';
import { definePlugin, hwtestCapability, type HardwareTestDefinition, type HardwareTestProvider } from '@sprout/kernel';

/** \`plugins.${id}\` in sprout.yaml; defaults apply, unknown keys are refused at boot. */
export const configSchema = Type.Object(
  {
    minutes: Type.Integer({ minimum: 1, maximum: 1440, default: 10, description: 'How long the test runs' }),
  },
  { additionalProperties: false },
);
export type ${pascal(id)}Config = Static<typeof configSchema>;

export function catalogue(config: ${pascal(id)}Config): HardwareTestDefinition[] {
  return [
    {
      name: '${id}',
      description: \`Stress CPUs and memory for \${config.minutes} min\`,
      run: { kind: 'script', script: \`stress-ng --cpu 0 --vm 1 --vm-bytes 75% --timeout \${config.minutes}m --metrics-brief\` },
      timeoutSeconds: config.minutes * 60 + 120,
    },
  ];
}

export function ${id.replace(/-/g, '_')}Provider(config: ${pascal(id)}Config): HardwareTestProvider {
  return {
    catalogue: () => catalogue(config),
    // Every provider sees every result: judge only this plugin's own tests.
    judge: (result) => (result.name === '${id}' && result.status === 'passed' && /fail/i.test(result.output) ? { ...result, status: 'failed' } : result),
  };
}

export default definePlugin({
  id: '${id}',
  configSchema,
  setup(ctx) {
    ctx.provide(hwtestCapability, () => ${id.replace(/-/g, '_')}Provider(ctx.config));
${route(`{ plugin: ctx.id, tests: catalogue(ctx.config) }`)}
  },
});
`;
  }
  if (capability === 'dhcp') {
    return `/**
 * ${descriptionOf(input)} Reservations live in memory here (gone on restart):
 * replace the Map with your DHCP server's API. The site agent is sent what
 * listReservations returns; the shared dhcp contract (test/) says what the kernel relies on.
 */
import Type from 'typebox';
import { definePlugin, dhcpCapability, isIpv4, normaliseMac, SproutError, type DhcpProvider, type DhcpReservation } from '@sprout/kernel';

export const configSchema = Type.Object({ server: Type.Optional(Type.String({ description: 'Your DHCP server, for when this talks to one' })) }, { additionalProperties: false });

// normaliseMac (aa:bb:cc:dd:ee:ff from colons, dashes, Cisco dots or bare hex) and isIpv4
// (strict dotted quads) are the SDK's: every dhcp provider refuses the same spellings.

export function memoryDhcpProvider(): DhcpProvider & { count(): number } {
  const reservations = new Map<string, DhcpReservation>();
  const key = (siteId: string, mac: string) => \`\${siteId} \${mac}\`;
  return {
    async reserve(reservation) {
      const mac = normaliseMac(reservation.mac);
      if (!isIpv4(reservation.address)) throw new SproutError('SPROUT_ERR_VALIDATION', \`"\${reservation.address}" is not an IPv4 address\`);
      const holder = [...reservations.values()].find((r) => r.siteId === reservation.siteId && r.networkId === reservation.networkId && r.address === reservation.address && r.mac !== mac);
      if (holder) throw new SproutError('SPROUT_ERR_CONFLICT', \`\${reservation.address} is reserved for \${holder.mac}\`);
      const { hostname, ...rest } = reservation;
      reservations.set(key(reservation.siteId, mac), { ...rest, mac, ...(hostname === undefined ? {} : { hostname }) });
    },
    async unreserve(siteId, mac) {
      reservations.delete(key(siteId, normaliseMac(mac)));
    },
    async listReservations(siteId) {
      return [...reservations.values()].filter((r) => r.siteId === siteId);
    },
    count: () => reservations.size,
  };
}

export default definePlugin({
  id: '${id}',
  configSchema,
  setup(ctx) {
    const provider = memoryDhcpProvider();
    ctx.provide(dhcpCapability, () => provider);
${route(`{ plugin: ctx.id, reservations: provider.count() }`)}
  },
});
`;
  }
  if (capability === 'dns') {
    return `/**
 * ${descriptionOf(input)} Records live in memory here: replace the Map with
 * your DNS server's API. The shared dns contract (test/) says what the kernel relies on.
 */
import Type from 'typebox';
import { definePlugin, dnsCapability, SproutError, type DnsProvider, type DnsRecord } from '@sprout/kernel';

export const configSchema = Type.Object({ defaultTtl: Type.Integer({ minimum: 1, default: 300 }) }, { additionalProperties: false });

const keyOf = (r: Pick<DnsRecord, 'siteId' | 'zone' | 'name' | 'type'>) => \`\${r.siteId} \${r.zone.toLowerCase()} \${r.name.toLowerCase()} \${r.type}\`;
const ipv4 = /^(25[0-5]|2[0-4]\\d|1?\\d?\\d)(\\.(25[0-5]|2[0-4]\\d|1?\\d?\\d)){3}$/;

function problemsOf(record: DnsRecord): string[] {
  const problems: string[] = [];
  const name = record.name.toLowerCase().replace(/\\.$/, '');
  const zone = record.zone.toLowerCase().replace(/\\.$/, '');
  if (!/^[a-z0-9-]+(\\.[a-z0-9-]+)*$/.test(name)) problems.push(\`\${record.name} is not a valid DNS name\`);
  if (!zone || !(name === zone || name.endsWith(\`.\${zone}\`))) problems.push(\`\${record.name} is not in zone \${record.zone}\`);
  if (record.type === 'A' && !ipv4.test(record.value)) problems.push(\`\${record.name}: A needs an IPv4 address, not "\${record.value}"\`);
  if (record.type === 'PTR' && !/^[a-z0-9.-]+$/i.test(record.value)) problems.push(\`\${record.name}: PTR needs a host name, not "\${record.value}"\`);
  if (record.type !== 'A' && record.type !== 'PTR') problems.push(\`\${record.name}: type \${String(record.type)} is not supported\`);
  if (record.ttl !== undefined && !(Number.isInteger(record.ttl) && record.ttl > 0)) problems.push(\`\${record.name}: ttl must be a positive integer\`);
  return problems;
}

export function memoryDnsProvider(defaultTtl: number): DnsProvider & { count(): number } {
  const records = new Map<string, DnsRecord>();
  const normal = (r: DnsRecord): DnsRecord => ({ ...r, zone: r.zone.toLowerCase().replace(/\\.$/, ''), name: r.name.toLowerCase().replace(/\\.$/, ''), ttl: r.ttl ?? defaultTtl });
  return {
    async upsertRecords(list) {
      const problems = list.flatMap(problemsOf);
      // all or nothing: nothing is written when one record is wrong
      if (problems.length > 0) throw new SproutError('SPROUT_ERR_VALIDATION', \`invalid DNS records: \${problems.join('; ')}\`);
      for (const record of list.map(normal)) records.set(keyOf(record), record);
    },
    async removeRecords(keys) {
      for (const key of keys) records.delete(keyOf({ ...key, zone: key.zone.replace(/\\.$/, ''), name: key.name.replace(/\\.$/, '') }));
    },
    async listRecords(siteId, zone) {
      const wanted = zone?.toLowerCase().replace(/\\.$/, '');
      return [...records.values()].filter((r) => r.siteId === siteId && (!wanted || r.zone === wanted));
    },
    count: () => records.size,
  };
}

export default definePlugin({
  id: '${id}',
  configSchema,
  setup(ctx) {
    const provider = memoryDnsProvider(ctx.config.defaultTtl);
    ctx.provide(dnsCapability, () => provider);
${route(`{ plugin: ctx.id, records: provider.count() }`)}
  },
});
`;
  }
  return `/**
 * ${descriptionOf(input)} An extension provides no capability, so it is always
 * active once installed.
 */
import Type from 'typebox';
import { definePlugin } from '@sprout/kernel';

export const configSchema = Type.Object({ vetoPrefix: Type.String({ default: '', description: 'Machines whose hostname starts with this are never deployed (empty: none)' }) }, { additionalProperties: false });

export default definePlugin({
  id: '${id}',
  configSchema,
  setup(ctx) {
    let transitions = 0;
    // Taps are named after the plugin; an exception in one names plugin and hook.
    ctx.hooks.machineTransitionBefore.tap(async (t) => (ctx.config.vetoPrefix && t.to === 'deploying' && t.hostname.startsWith(ctx.config.vetoPrefix) ? { veto: \`${id}: \${t.hostname} is not to be deployed\` } : undefined));
    ctx.hooks.machineTransitionAfter.tap(async () => void (transitions += 1));
${route(`{ plugin: ctx.id, transitionsSeen: transitions }`)}
  },
});
`;
}

function commands({ id }: PluginTemplateInput): string {
  const name = pascal(id);
  return `/**
 * The commands this plugin adds to \`sprout\` (named by "commands" in package.json).
 * They live under the plugin's noun, \`sprout ${id} …\`, and get --json, the API client
 * (SPROUT_URL/SPROUT_TOKEN, the login profile or the local server) and error handling
 * from SproutCommand.
 */
import { SproutCommand, Command, table } from '@sprout/kernel/cli';

export class ${name}ReportCommand extends SproutCommand {
  static paths = [['${id}', 'report']];
  static usage = Command.Usage({
    category: '${name}',
    description: 'Show the ${id} plugin report from the control plane',
    examples: [['Report', 'sprout ${id} report'], ['As JSON', 'sprout ${id} report --json']],
  });

  async run() {
    const report = await this.api().get<Record<string, unknown>>('v1/plugins/${id}/report');
    this.print(report, () => table(['KEY', 'VALUE'], Object.entries(report).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)])));
    return 0;
  }
}

export default [${name}ReportCommand];
`;
}

function testFile(input: PluginTemplateInput): string {
  const { id, packageName, capability } = input;
  const selection = capability === 'dns' || capability === 'dhcp' ? `{ capabilities: { ${capability}: { use: '${id}' } } }` : '{}';
  const boot = `/** One real kernel for this file (embedded database in memory) with this package in its plugin directory. */
let booted: Promise<{ kernel: Kernel; token: string }> | undefined;
const dirs: string[] = [];
function server(): Promise<{ kernel: Kernel; token: string }> {
  booted ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), '${id}-test-'));
    dirs.push(dir);
    const installed = join(dir, 'plugins', 'node_modules', ...'${packageName}'.split('/'));
    mkdirSync(join(installed, '..'), { recursive: true });
    symlinkSync(packageRoot, installed, 'dir');
    const token = 'sprout_${id.replace(/-/g, '_')}_test_admin_token';
    const { config } = loadConfig({ env: { SPROUT_DATA_DIR: join(dir, 'data'), SPROUT_PLUGIN_DIR: join(dir, 'plugins'), SPROUT_ADMIN_TOKEN: token, SPROUT_LOG_LEVEL: 'silent' }, cwd: dir });
    const kernel = await Kernel.boot({ config: { ...config, ...${selection} } as typeof config, store: { inMemory: true }, background: false, builtinPlugins });
    return { kernel, token };
  })();
  return booted;
}
test.after.always(async () => {
  const running = await booted?.catch(() => undefined);
  await running?.kernel.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
`;
  const imports = `import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinPlugins } from '@sprout/cli/builtin-plugins';`;
  const packageRoot = `const packageRoot = fileURLToPath(new URL('..', import.meta.url));`;
  const reportTest = `test('loads in a Sprout server: its route answers under /v1/plugins/${id}/', async (t) => {
  const { kernel, token } = await server();
  t.true(kernel.pluginStatus.some((p) => p.id === '${id}' && p.active));
  const response = await kernel.app!.inject({ method: 'GET', url: '/v1/plugins/${id}/report', headers: { authorization: \`Bearer \${token}\` } });
  t.is(response.statusCode, 200, response.body);
  t.is(response.json().plugin, '${id}');
  t.is((await kernel.app!.inject({ method: 'GET', url: '/v1/plugins/${id}/report' })).statusCode, 401, 'no token, no report');
});

test('contributes the \`sprout ${id} report\` command under its noun', async (t) => {
  const { default: commands } = await import('../src/commands.ts');
  t.deepEqual(commands.map((c) => c.paths), [[['${id}', 'report']]]);
});`;
  if (capability === 'hwtest') {
    return `/**
 * The plugin's own tests: its hardware test definition, how it judges results, and
 * that a real kernel loads it and puts its test in the catalogue every commissioning
 * runs. (The kernel has no shared contract suite for hwtest; these checks stand in.)
 */
${imports}
import { Value } from 'typebox/value';
import { Kernel, hwtestCapability, loadConfig } from '@sprout/kernel';
import plugin, { catalogue, configSchema, ${id.replace(/-/g, '_')}Provider } from '../src/index.ts';

${packageRoot}

${boot}
test('the definition matches the manifest and its config has defaults', (t) => {
  t.is(plugin.id, '${id}');
  const config = Value.Default(configSchema, {}) as { minutes: number };
  t.true(Value.Check(configSchema, config));
  t.false(Value.Check(configSchema, { ...config, surprise: true }), 'unknown keys are refused');
});

test('the catalogue names one script test with a timeout longer than its run', (t) => {
  const [test${pascal(id)}] = catalogue({ minutes: 5 });
  t.is(test${pascal(id)}.name, '${id}');
  t.is(test${pascal(id)}.run.kind, 'script');
  t.true(test${pascal(id)}.timeoutSeconds > 5 * 60);
});

test('judge leaves other providers\\' results alone and fails its own on a reported failure', (t) => {
  const provider = ${id.replace(/-/g, '_')}Provider({ minutes: 1 });
  const other = { name: 'cpu-inventory', status: 'passed' as const, durationMs: 1, output: 'failover cpu' };
  t.deepEqual(provider.judge(other, {}), other);
  t.is(provider.judge({ name: '${id}', status: 'passed', durationMs: 1, output: 'stress-ng: fail: 1 worker' }, {}).status, 'failed');
  t.is(provider.judge({ name: '${id}', status: 'passed', durationMs: 1, output: 'stress-ng: passed' }, {}).status, 'passed');
});

test('a Sprout server puts the ${id} test in the hardware test catalogue', async (t) => {
  const { kernel } = await server();
  const names = (await kernel.capabilityAll(hwtestCapability)).flatMap((p) => p.catalogue().map((d) => d.name));
  t.true(names.includes('${id}'), names.join(', '));
  t.true(names.includes('cpu-inventory'), 'next to the builtin tests');
});

${reportTest}
`;
  }
  if (capability === 'dhcp') {
    return `/**
 * The plugin's own tests: the kernel's shared dhcp contract against this provider, and
 * a real kernel that loads it when config selects it.
 */
${imports}
import { randomUUID } from 'node:crypto';
import { Kernel, loadConfig } from '@sprout/kernel';
import { dhcpContract } from '@sprout/kernel/testing';
import { memoryDhcpProvider } from '../src/index.ts';

${packageRoot}

${boot}
dhcpContract(test, {
  title: '${id}',
  setup: async () => ({ provider: memoryDhcpProvider(), newSite: async () => ({ siteId: randomUUID(), networkId: randomUUID() }) }),
});

test('a Sprout server uses it when config selects it', async (t) => {
  const { kernel } = await server();
  t.is(kernel.activeProvider('dhcp'), '${id}');
});

${reportTest}
`;
  }
  if (capability === 'dns') {
    return `/**
 * The plugin's own tests: the kernel's shared dns contract against this provider, and
 * a real kernel that loads it when config selects it.
 */
${imports}
import { randomUUID } from 'node:crypto';
import { Kernel, loadConfig } from '@sprout/kernel';
import { dnsContract } from '@sprout/kernel/testing';
import { memoryDnsProvider } from '../src/index.ts';

${packageRoot}

${boot}
dnsContract(test, {
  title: '${id}',
  setup: async () => ({ provider: memoryDnsProvider(300), newSite: async () => randomUUID() }),
});

test('a Sprout server uses it when config selects it', async (t) => {
  const { kernel } = await server();
  t.is(kernel.activeProvider('dns'), '${id}');
});

${reportTest}
`;
  }
  return `/**
 * The plugin's own tests: a real kernel loads it, runs its taps and serves its route.
 * (An extension implements no capability, so there is no contract suite to run.)
 */
${imports}
import { Kernel, loadConfig } from '@sprout/kernel';
import plugin from '../src/index.ts';

${packageRoot}

${boot}
test('the definition matches the manifest', (t) => {
  t.is(plugin.id, '${id}');
});

${reportTest}
`;
}

function readme(input: PluginTemplateInput): string {
  const { packageName, id, capability } = input;
  return `# ${packageName}

${descriptionOf(input)}

## Develop

\`sprout plugin new\` linked this folder to the Sprout installation that made it:
\`node_modules/@sprout/kernel\`, \`@sprout/cli\`, \`typebox\`, \`ava\` and \`tsx\` point into it, so there is
nothing to install. \`@sprout/kernel\` and \`typebox\` are peer dependencies: an installed
plugin always runs on the kernel of the Sprout that loads it.

\`\`\`sh
npm test          # ${capability === 'dns' || capability === 'dhcp' ? `the shared ${capability} contract, then a real kernel with the plugin loaded` : 'its checks, then a real kernel with the plugin loaded'}
\`\`\`

## Publish and install

\`\`\`sh
sprout registry start                       # a local Verdaccio for plugin authors
npm publish --registry http://127.0.0.1:4873
sprout plugin install ${packageName} --registry http://127.0.0.1:4873${capability === 'dns' || capability === 'dhcp' ? ' --enable' : ''}
sprout plugin list
sprout ${id} report                         # once the server runs with it
\`\`\`

${capability === 'dns' || capability === 'dhcp' ? `\`--enable\` writes \`capabilities.${capability}.use: ${id}\` to the config: a \`one\` capability has one active provider.` : capability === 'hwtest' ? `The hwtest capability takes many providers: once installed, the \`${id}\` test runs in every commissioning with hardware tests. Its config is \`plugins.${id}.minutes\`.` : 'An extension is active as soon as it is installed.'}
`;
}
