import test from 'ava';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, maskSecrets, maskUrls, isSproutError } from '@sprout/kernel';

const dir = () => mkdtempSync(join(tmpdir(), 'sprout-config-'));

test('defaults: embedded store in ./.sprout, HTTP transport, listen on loopback', (t) => {
  const cwd = dir();
  const { config, file } = loadConfig({ env: {}, cwd });
  t.is(file, null);
  t.is(config.dataDir, join(cwd, '.sprout'));
  t.is(config.pluginDir, join(cwd, '.sprout', 'plugins'));
  t.is(config.listen, '127.0.0.1:7480');
  t.is(config.database.url, undefined);
  t.deepEqual(config.capabilities.transport, { use: 'transport-http' });
});

test('a NATS URL makes NATS the transport unless one is chosen explicitly', (t) => {
  t.deepEqual(loadConfig({ env: { SPROUT_NATS_URL: 'nats://127.0.0.1:4222' }, cwd: dir() }).config.capabilities.transport, { use: 'transport-nats' });
  const cwd = dir();
  writeFileSync(join(cwd, 'sprout.yaml'), 'capabilities:\n  transport: { use: transport-http }\nnats: { url: "nats://127.0.0.1:4222" }\n');
  t.deepEqual(loadConfig({ env: {}, cwd }).config.capabilities.transport, { use: 'transport-http' });
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
  const masked = maskSecrets({ database: { url: 'postgres://sprout:hunter2@db:5432/sprout' }, auth: { adminToken: 'abc' }, plugins: { 'netbox-stub': { token: 'xyz', url: 'https://netbox' } } });
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
    ['postgresql://u:p%40ss@db:5432/x?sslmode=require&sslpassword=k&sslkey=/etc/k.pem#f', 'postgresql://u:********@db:5432/x?sslmode=require&sslpassword=********&sslkey=********#f'],
    ['https://h/p?api_key=a&x=1&access_token=b', 'https://h/p?api_key=********&x=1&access_token=********'],
    ['cannot reach http://u:pw@cp:7480/v1 (ECONNREFUSED); NATS at "nats://t0k@n:4222" down', 'cannot reach http://u:********@cp:7480/v1 (ECONNREFUSED); NATS at "nats://********@n:4222" down'],
    ['http://127.0.0.1:7480/docs and no secret', 'http://127.0.0.1:7480/docs and no secret'],
  ];
  for (const [given, shown] of cases) t.is(maskUrls(given), shown, given);
});
