/** `services.dns` settings: defaults, and every invalid field reported at once. */
import test from 'ava';
import { isSproutError } from '@sprout/kernel';
import { defaultDnsSettings, parseDnsSettings } from '../../src/agent/settings.ts';

test('an empty block gives port 53 on every address', (t) => {
  t.deepEqual(parseDnsSettings({}), { ...defaultDnsSettings, soa: { ...defaultDnsSettings.soa } });
  t.like(parseDnsSettings({}), { port: 53, address: '0.0.0.0', ttl: 300 });
});

test('given fields override the defaults; names are normalised', (t) => {
  const settings = parseDnsSettings({
    port: 5353,
    address: '127.0.0.1',
    ttl: 60,
    nameserver: 'NS.Lab.Example.',
    soa: { rname: 'ops.lab.example', minimum: 30 },
  });
  t.like(settings, { port: 5353, address: '127.0.0.1', ttl: 60, nameserver: 'ns.lab.example', soa: { rname: 'ops.lab.example', minimum: 30, refresh: 3600 } });
});

test('every invalid field is listed in one SPROUT_ERR_CONFIG', (t) => {
  const error = t.throws(() =>
    parseDnsSettings({
      port: 70000,
      address: 'eth0',
      ttl: -1,
      nameserver: 'not a name',
      nameserverAddress: '::1',
      soa: { refresh: 'hourly', serial: 3 },
      zones: [],
    }),
  );
  t.true(isSproutError(error));
  t.is((error as { code?: string }).code, 'SPROUT_ERR_CONFIG');
  const fields = (error as unknown as { details: { field: string }[] }).details.map((d) => d.field).sort();
  t.deepEqual(fields, [
    'services.dns.address',
    'services.dns.nameserver',
    'services.dns.nameserverAddress',
    'services.dns.port',
    'services.dns.soa.refresh',
    'services.dns.soa.serial',
    'services.dns.ttl',
    'services.dns.zones',
  ]);
});

test('workers is a whole number of processes from 0 to 64', (t) => {
  t.is(parseDnsSettings({ workers: 3 }).workers, 3);
  t.is(parseDnsSettings({}).workers, 0);
  for (const bad of [-1, 65, 1.5, 'two']) {
    const error = t.throws(() => parseDnsSettings({ workers: bad }));
    t.regex(JSON.stringify((error as { details?: unknown }).details), /services\.dns\.workers.*must be an integer from 0 to 64/);
  }
});
