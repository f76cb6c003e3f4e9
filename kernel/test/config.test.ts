import test from 'ava';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectPlugins, loadConfig, maskSecrets, maskUrls, isSproutError, type SproutError } from '@sprout/kernel';

const dir = () => mkdtempSync(join(tmpdir(), 'sprout-config-'));

test('defaults: embedded store in ./.sprout, no provider chosen in config, listen on loopback', (t) => {
  const cwd = dir();
  const { config, file } = loadConfig({ env: {}, cwd });
  t.is(file, null);
  t.is(config.dataDir, join(cwd, '.sprout'));
  t.is(config.pluginDir, join(cwd, '.sprout', 'plugins'));
  t.is(config.listen, '127.0.0.1:7480');
  t.is(config.database.url, undefined);
  t.deepEqual(config.capabilities, {});
});

/** Two transport plugins as packages: one the default, one the default once its `url` setting is set (SPROUT_WIRE_URL sets it). */
function transportPlugins(): string[] {
  const root = dir();
  const plugin = (id: string, sprout: Record<string, unknown>) => {
    mkdirSync(join(root, id));
    writeFileSync(
      join(root, id, 'package.json'),
      JSON.stringify({
        name: `@sprout/plugin-${id}`,
        version: '1.0.0',
        exports: './index.js',
        sprout: { id, provides: ['transport'], apiVersion: '^1.0.0', ...sprout },
      }),
    );
    return join(root, id);
  };
  return [plugin('plain', { default: true }), plugin('wire', { default: 'url', env: { SPROUT_WIRE_URL: 'url' }, movedSettings: { 'nats.url': 'url' } })];
}

test('a plugin declares the environment variable that sets its setting, and the setting that makes it the default provider', (t) => {
  const builtins = transportPlugins();
  const plan = (env: Record<string, string>, yaml = '') => {
    const cwd = dir();
    writeFileSync(join(cwd, 'sprout.yaml'), yaml);
    const inspected = inspectPlugins(loadConfig({ env, cwd }).config, builtins, env);
    t.deepEqual(inspected.problems, []);
    return { use: inspected.plan.providers.get('transport'), settings: inspected.config.plugins.wire };
  };
  t.deepEqual(plan({}), { use: ['plain'], settings: undefined });
  t.deepEqual(plan({ SPROUT_WIRE_URL: 'nats://127.0.0.1:4222' }), { use: ['wire'], settings: { url: 'nats://127.0.0.1:4222' } });
  t.deepEqual(plan({}, 'plugins:\n  wire: { url: "nats://10.0.0.1:4222", prefix: x }\n'), {
    use: ['wire'],
    settings: { url: 'nats://10.0.0.1:4222', prefix: 'x' },
  });
  t.deepEqual(
    plan({ SPROUT_WIRE_URL: 'nats://127.0.0.1:4222' }, 'plugins:\n  wire: { url: "nats://10.0.0.1:4222" }\n').settings,
    { url: 'nats://127.0.0.1:4222' },
    'the environment wins over the file',
  );
  t.deepEqual(plan({ SPROUT_WIRE_URL: 'nats://127.0.0.1:4222' }, 'capabilities:\n  transport: { use: plain }\n').use, ['plain'], 'an explicit choice wins');
});

test('the nats section an older Sprout read is refused, naming the setting that replaced it', (t) => {
  const cwd = dir();
  writeFileSync(join(cwd, 'sprout.yaml'), 'nats: { url: "nats://127.0.0.1:4222" }\n');
  // A plugin's manifest names the kernel key its setting replaced ("movedSettings"); the kernel itself knows no transport.
  const err = t.throws(() => loadConfig({ env: {}, cwd, plugins: transportPlugins() })) as SproutError;
  t.true(isSproutError(err, 'SPROUT_ERR_CONFIG'));
  t.deepEqual(
    err.details?.map((p) => p.field),
    ['nats'],
  );
  t.is(err.details?.[0]?.message, 'nats.url is a setting of plugin wire now: write plugins.wire.url (SPROUT_WIRE_URL still sets it) instead of nats.url');
  const unclaimed = t.throws(() => loadConfig({ env: {}, cwd })) as SproutError;
  t.deepEqual(unclaimed.details, [{ field: 'nats', message: 'unknown key' }], 'without the plugin that claims it, an unknown key');
});

test('environment overrides the file; relative paths resolve against the file', (t) => {
  const cwd = dir();
  const etc = join(cwd, 'etc');
  mkdirSync(etc);
  writeFileSync(join(etc, 'site.yaml'), 'dataDir: ../var\nlisten: 127.0.0.1:9000\ndatabase:\n  url: postgres://a:b@db/x\n');
  const { config, file } = loadConfig({ env: { SPROUT_CONFIG: 'etc/site.yaml', SPROUT_LISTEN: '127.0.0.1:9100' }, cwd });
  t.is(file, join(etc, 'site.yaml'));
  t.is(config.dataDir, join(cwd, 'var'));
  t.is(config.listen, '127.0.0.1:9100');
  t.is(config.database.url, 'postgres://a:b@db/x');
});

test('every bad key is reported at once, each named with what was expected', (t) => {
  const cwd = dir();
  writeFileSync(join(cwd, 'sprout.yaml'), 'listen: nowhere\ncapabilities:\n  ipam: { use: 7 }\nlog: { level: loud }\ncolour: blue\n');
  const err = t.throws(() => loadConfig({ env: {}, cwd }));
  t.true(isSproutError(err, 'SPROUT_ERR_CONFIG'));
  const fields = (err as any).details.map((d: any) => d.field);
  t.true(fields.includes('listen'));
  t.true(fields.includes('capabilities.ipam.use'));
  t.true(fields.includes('log.level'));
  t.true(fields.includes('colour'));
  t.regex((err as any).explain(), /colour: unknown key/);
});

test('a missing explicit file and invalid YAML are errors naming the file', (t) => {
  const cwd = dir();
  t.throws(() => loadConfig({ file: 'nope.yaml', env: {}, cwd }), { message: /nope\.yaml does not exist/ });
  writeFileSync(join(cwd, 'sprout.yaml'), 'listen: [unclosed\n');
  t.throws(() => loadConfig({ env: {}, cwd }), { message: /sprout\.yaml is not valid YAML/ });
});

test('secrets are masked: token-like keys and passwords inside URLs', (t) => {
  const masked = maskSecrets({
    database: { url: 'postgres://sprout:hunter2@db:5432/sprout' },
    auth: { adminToken: 'abc' },
    plugins: { 'netbox-stub': { token: 'xyz', url: 'https://netbox' } },
  });
  t.is(masked.database.url, 'postgres://sprout:********@db:5432/sprout');
  t.is(masked.auth.adminToken, '********');
  t.is(masked.plugins['netbox-stub'].token, '********');
  t.is(masked.plugins['netbox-stub'].url, 'https://netbox');
  t.false(JSON.stringify(masked).includes('hunter2'));
});

test('every URL in a text is masked, whatever its form; host, port, path and other parameters stay', (t) => {
  const cases: [string, string][] = [
    ['nats://s3cr3t@nats:4222', 'nats://********@nats:4222'],
    ['nats://a:pw1@h1:4222,nats://b:pw2@h2, tls://tok@h3', 'nats://a:********@h1:4222,nats://b:********@h2, tls://********@h3'],
    ['postgres://postgres@db/x?password=pw&application_name=cp', 'postgres://postgres@db/x?password=********&application_name=cp'],
    [
      'postgresql://u:p%40ss@db:5432/x?sslmode=require&sslpassword=k&sslkey=/etc/k.pem#f',
      'postgresql://u:********@db:5432/x?sslmode=require&sslpassword=********&sslkey=********#f',
    ],
    ['https://h/p?api_key=a&x=1&access_token=b', 'https://h/p?api_key=********&x=1&access_token=********'],
    [
      'cannot reach http://u:pw@cp:7480/v1 (ECONNREFUSED); NATS at "nats://t0k@n:4222" down',
      'cannot reach http://u:********@cp:7480/v1 (ECONNREFUSED); NATS at "nats://********@n:4222" down',
    ],
    ['http://127.0.0.1:7480/docs and no secret', 'http://127.0.0.1:7480/docs and no secret'],
  ];
  for (const [given, shown] of cases) t.is(maskUrls(given), shown, given);
});
