/**
 * Boot validation and the plugin host, with fixture plugin packages: a default and an
 * alternative IPAM, an extension plugin (hooks, routes, migration, commands) and
 * third-party plugin folders that each hold one problem.
 */
import test from 'ava';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { Kernel, inspectPlugins, ipamCapability, isSproutError, loadConfig, packagesIn, type SproutError } from '@sprout/kernel';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const builtins = packagesIn(join(fixtures, 'builtins'));
const pluginDir = (name: string) => join(fixtures, 'plugin-dirs', name);

function config(yaml: Record<string, unknown> = {}, pluginDirName = 'none') {
  const env = { SPROUT_DATA_DIR: mkdtempSync(join(tmpdir(), 'sprout-host-')), SPROUT_PLUGIN_DIR: pluginDir(pluginDirName), SPROUT_LOG_LEVEL: 'silent' };
  const { config } = loadConfig({ env, cwd: tmpdir(), file: undefined });
  return { ...config, capabilities: {}, ...yaml } as typeof config;
}

async function bootFailure(t: any, cfg: ReturnType<typeof config>): Promise<SproutError> {
  const err = await t.throwsAsync(Kernel.boot({ config: cfg, builtinPlugins: builtins, logger: pino({ level: 'silent' }), store: { inMemory: true } }));
  t.true(isSproutError(err, 'SPROUT_ERR_PLUGIN_VALIDATION'), String(err));
  return err as SproutError;
}

test('the default provider is active unless config picks another; the swap needs no code', (t) => {
  const byDefault = inspectPlugins(config(), builtins);
  t.deepEqual(byDefault.plan.providers.get('ipam'), ['ipam-default']);
  t.is(byDefault.problems.length, 0);
  const swapped = inspectPlugins(config({ capabilities: { ipam: { use: 'ipam-alt' } } }), builtins);
  t.deepEqual(swapped.plan.providers.get('ipam'), ['ipam-alt']);
  t.false(swapped.plugins.find((p) => p.id === 'ipam-default')!.active);
  // the scoped package name works as well as the short id
  const byPackage = inspectPlugins(config({ capabilities: { ipam: { use: '@sprout/plugin-ipam-alt' } } }), builtins);
  t.deepEqual(byPackage.plan.providers.get('ipam'), ['ipam-alt']);
});

test('a configured plugin that is not installed is fatal, naming it and the install command', async (t) => {
  const err = await bootFailure(t, config({ capabilities: { ipam: { use: 'netbox-stub' } } }));
  const text = err.explain();
  t.regex(text, /capabilities\.ipam\.use: plugin "netbox-stub" is not installed/);
  t.regex(text, /npm install --prefix \S+ @sprout\/plugin-netbox-stub/);
});

test('two default providers for a one-capability are reported with how to choose', (t) => {
  const { problems } = inspectPlugins(config({}, 'conflict'), builtins);
  t.true(problems.some((p) => /2 plugins provide "ipam" \(ipam-default, ipam-rival\).*capabilities\.ipam\.use/.test(p.message)));
  // choosing one resolves it
  t.is(inspectPlugins(config({ capabilities: { ipam: { use: '@other/ipam-rival' } } }, 'conflict'), builtins).problems.length, 0);
});

test('an api-version mismatch and a consumes nobody provides are reported', (t) => {
  t.true(inspectPlugins(config({}, 'future'), builtins).problems.some((p) => /needs kernel API \^2\.0\.0, this kernel offers 1\./.test(p.message)));
  t.true(inspectPlugins(config({}, 'needs-dns'), builtins).problems.some((p) => /consumes "dns" but no active plugin provides it/.test(p.message)));
});

test('plugin config failing its schema names each bad field', async (t) => {
  const err = await bootFailure(
    t,
    config({ capabilities: { ipam: { use: 'ipam-alt' } }, plugins: { 'ipam-alt': { url: 'ftp://x', retries: -1, colour: 'red' } } }),
  );
  const fields = err.details.map((d) => d.field);
  t.true(fields.includes('plugins.ipam-alt.url'));
  t.true(fields.includes('plugins.ipam-alt.retries'));
  t.true(fields.includes('plugins.ipam-alt.colour'));
});

test('two problems in one config are both reported, and no plugin setup runs', async (t) => {
  const marker = join(mkdtempSync(join(tmpdir(), 'sprout-marker-')), 'marker');
  process.env.SPROUT_TEST_MARKER = marker;
  try {
    const cfg = config({ capabilities: { ipam: { use: 'ipam-alt' }, dns: { use: 'powerdns-stub' } }, plugins: { 'ipam-alt': { url: 42 } } }, 'side-effect');
    const err = await bootFailure(t, cfg);
    t.true(err.details.some((d) => d.field === 'capabilities.dns.use' && /powerdns-stub/.test(d.message)));
    t.true(err.details.some((d) => d.field === 'plugins.ipam-alt.url'));
    t.false(existsSync(marker), 'a plugin ran setup although validation failed');
  } finally {
    delete process.env.SPROUT_TEST_MARKER;
  }
});

test('an unknown capability in config is reported', (t) => {
  t.true(inspectPlugins(config({ capabilities: { ipmi: { use: 'x' } } }), builtins).problems.some((p) => p.field === 'capabilities.ipmi'));
});

test('a booted kernel wires providers, plugin routes, migrations and hooks', async (t) => {
  const kernel = await Kernel.boot({
    config: config({ capabilities: { ipam: { use: 'ipam-alt' } }, plugins: { 'ipam-alt': { url: 'https://ipam.example' } } }),
    builtinPlugins: builtins,
    logger: pino({ level: 'silent' }),
    store: { inMemory: true },
  });
  t.teardown(() => kernel.stop());
  const ipam = await kernel.capability(ipamCapability);
  const network = { id: 'n', siteId: 's', cidr: '198.18.0.0/24', gateway: '198.18.0.1', ranges: [] };
  t.is((await ipam.allocateAddress({ network })).provider, 'ipam-alt via https://ipam.example');

  // plugin config defaults were applied
  t.is(kernel.plugins.find((p) => p.manifest.id === 'ipam-alt')!.config.retries, 2);

  // the extension's route is mounted under /v1/plugins/<id>/, behind auth, and sees its migration's table
  const admin = await kernel.services.tokens.create({ name: 'a', role: 'admin', createdBy: 'test' });
  const denied = await kernel.app!.inject({ url: '/v1/plugins/auditor/ping' });
  t.is(denied.statusCode, 401);
  const ping = await kernel.app!.inject({ url: '/v1/plugins/auditor/ping', headers: { authorization: `Bearer ${admin.secret}` } });
  t.is(ping.statusCode, 200);
  t.deepEqual(ping.json(), { pong: true, provider: 'ipam-alt via https://ipam.example', notes: 0 });

  // an authorize tap denies after the role check passed: 403 problem+json, audited as denied
  const refused = await kernel.app!.inject({ url: '/v1/plugins/auditor/ping?deny-me=1', headers: { authorization: `Bearer ${admin.secret}` } });
  t.is(refused.statusCode, 403);
  t.is(refused.json().code, 'SPROUT_ERR_FORBIDDEN');
  t.is(refused.json().detail, 'auditor denies deny-me');
  const denials = await kernel.services.auditLog.list({ outcome: 'denied' });
  t.like(denials.items[0], { actor: 'token:a', outcome: 'denied', details: { status: 403, reason: 'auditor denies deny-me' } });

  // a veto comes back as a value; a throwing tap is wrapped with plugin id and hook name
  const transition = { machineId: 'm', hostname: 'h', from: 'new', action: 'x', reason: null, actor: 'test' };
  t.deepEqual(await kernel.hooks.machineTransitionBefore.promise({ ...transition, to: 'forbidden' }), { veto: 'auditor says no' });
  const err = await t.throwsAsync(kernel.hooks.machineTransitionBefore.promise({ ...transition, to: 'exploding' }));
  t.true(isSproutError(err, 'SPROUT_ERR_HOOK_FAILED'));
  t.is(err!.message, 'plugin auditor failed in hook machineTransitionBefore: boom');
  t.deepEqual((err as SproutError).context, { plugin: 'auditor', hook: 'machineTransitionBefore' });
  t.deepEqual(
    kernel.hooks.machineTransitionBefore.taps.map((tap) => tap.name),
    ['auditor'],
  );
  t.true(Object.isFrozen(kernel.hooks));
});
