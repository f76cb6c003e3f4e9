/** Settings an agent receives, the plugin's config defaults, and how a NATS URL is read. */
import test from 'ava';
import { isSproutError } from '@sprout/kernel';
import { readAgentSettings, withLocalNatsUrl } from '../src/settings.ts';
import { natsTarget, redactNatsUrl } from '../src/nats-url.ts';
import { pluginConfig } from '@sprout/test-support/nats-world.ts';

test('the plugin config defaults are the documented ones', (t) => {
  t.deepEqual(pluginConfig(), {
    prefix: 'sprout',
    ackWaitMs: 30_000,
    maxDeliver: 5,
    retryDelayMs: 1_000,
    duplicateWindowMs: 7_200_000,
    reportRetentionMs: 604_800_000,
    replicas: 1,
  });
});

test('an agent reads what the control plane sent: its plugin config plus url; agentUrl wins', (t) => {
  const sent = { ...pluginConfig({ prefix: 'lab', maxDeliver: 7 }), url: 'nats://10.0.0.1:4222' };
  t.like(readAgentSettings(sent), { url: 'nats://10.0.0.1:4222', prefix: 'lab', maxDeliver: 7, ackWaitMs: 30_000 });
  t.is(readAgentSettings({ ...sent, agentUrl: 'nats://nats.site.example:4222' }).url, 'nats://nats.site.example:4222');
  t.is(readAgentSettings({ url: 'nats://127.0.0.1:4222' }).prefix, 'sprout');
});

test('invalid agent settings are one config error listing every problem', (t) => {
  const err = t.throws(() => readAgentSettings({ prefix: 'Has.Dots', maxDeliver: 0 }));
  if (!isSproutError(err, 'SPROUT_ERR_CONFIG')) return t.fail(String(err));
  const fields = err.details.map((d) => d.field).sort();
  t.deepEqual(fields, ['settings.maxDeliver', 'settings.prefix', 'settings.url']);
});

test("an agent host's own NATS URL replaces the sent one and any agentUrl", (t) => {
  const sent = { url: 'nats://shared:4222', agentUrl: 'nats://agents:4222', prefix: 'sprout' };
  t.is(withLocalNatsUrl(sent, undefined), sent);
  t.is(readAgentSettings(withLocalNatsUrl(sent, 'nats://agent-1:pw@nats:4222')).url, 'nats://agent-1:pw@nats:4222');
});

test('a NATS URL gives servers, credentials and TLS; what is shown hides secrets', (t) => {
  t.deepEqual(natsTarget('nats://127.0.0.1'), { shown: 'nats://127.0.0.1', options: { servers: ['127.0.0.1:4222'] } });
  t.deepEqual(natsTarget('tls://ops:p%40ss@a.example:4443, tls://b.example:4443'), {
    shown: 'tls://ops:********@a.example:4443,tls://b.example:4443',
    options: { servers: ['a.example:4443', 'b.example:4443'], user: 'ops', pass: 'p@ss', tls: {} },
  });
  t.deepEqual(natsTarget('nats://s3cr3t-token@127.0.0.1:4222').options.token, 's3cr3t-token');
  t.is(natsTarget('nats://s3cr3t-token@127.0.0.1:4222').shown, 'nats://********@127.0.0.1:4222');
  t.is(redactNatsUrl('nats://u:secret@h:1'), 'nats://u:********@h:1');
  t.throws(() => natsTarget('http://127.0.0.1:4222'), { message: /not a nats/ });
});
