/**
 * What an operator sees of the NATS link: errors that name the URL (never its password),
 * health that follows the connection through an outage, and both halves working again
 * once NATS is back. Only loopback: a closed port or a proxy in front of 127.0.0.1:4222.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { isSproutError, type AgentTransport, type TransportProvider, type WorkItem } from '@sprout/kernel';
import { agentSide, controlSide, memoryLogger, pluginConfig, randomPrefix, removeStreams } from '@sprout/test-support/nats-world.ts';
import { LoopbackProxy, closedPort } from '@sprout/test-support/loopback-proxy.ts';

const patienceMs = 15_000;

async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + patienceMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${patienceMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const item = (siteId: string): WorkItem => ({ id: randomUUID(), siteId, kind: 'connection-test', workflowId: null, stepId: null, payload: {} });

test('the control plane names the URL when NATS is unreachable, and health says disconnected', async (t) => {
  const url = `nats://127.0.0.1:${await closedPort()}`;
  const control = await controlSide(url, pluginConfig({ prefix: randomPrefix() }));
  t.teardown(() => control.close());

  const publish = await t.throwsAsync(control.publishWork(item(randomUUID())));
  t.true(isSproutError(publish, 'SPROUT_ERR_UNAVAILABLE'), String(publish));
  t.true(publish!.message.includes(url), publish!.message);
  const register = await t.throwsAsync(control.onReport(async () => {}));
  t.true(isSproutError(register, 'SPROUT_ERR_UNAVAILABLE'));
  t.true(register!.message.includes(url), register!.message);

  const health = control.health();
  t.false(health.connected);
  t.regex(health.detail ?? '', /disconnected/);
  t.true(health.detail?.includes(url), health.detail);
});

test('without plugins.transport-nats.url every use fails naming it', async (t) => {
  const control = await controlSide(undefined, pluginConfig());
  t.teardown(() => control.close());
  const err = await t.throwsAsync(control.publishWork(item(randomUUID())));
  t.true(isSproutError(err, 'SPROUT_ERR_CONFIG'), String(err));
  t.regex(err!.message, /plugins\.transport-nats\.url \(SPROUT_NATS_URL\)/);
  await t.throwsAsync(
    control.onDeadLetter(async () => {}),
    { message: /plugins\.transport-nats\.url \(SPROUT_NATS_URL\)/ },
  );
  t.like(control.health(), { connected: false });
  t.regex(control.health().detail ?? '', /plugins\.transport-nats\.url \(SPROUT_NATS_URL\)/);
});

test('an agent pointed at a closed port starts, reports disconnected and refuses reports naming the URL', async (t) => {
  const url = `nats://127.0.0.1:${await closedPort()}`;
  const logger = memoryLogger();
  const siteId = randomUUID();
  const agentId = randomUUID();
  const agent = await agentSide({ ...pluginConfig(), url }, siteId, agentId, logger);
  t.teardown(() => agent.close());
  await agent.consumeWork(async () => {});

  await until('the agent has tried to connect', () => /disconnected|connecting/.test(agent.health().detail ?? '') && logger.entries.length > 0);
  const health = agent.health();
  t.false(health.connected);
  t.true(health.detail?.includes(url), health.detail);

  const err = await t.throwsAsync(agent.publishReports([{ agentId, siteId, sequence: 1, kind: 'event', at: new Date().toISOString(), payload: {} }]));
  t.true(isSproutError(err, 'SPROUT_ERR_UNAVAILABLE'), String(err));
  t.true(err!.message.includes(url), err!.message);
  t.true(
    logger.entries.some((e) => e.level === 'warn'),
    'the agent says once that NATS is unreachable',
  );
});

test('a password in the URL never appears in errors or health', async (t) => {
  const port = await closedPort();
  const control = await controlSide(`nats://sprout:s3cret-pass@127.0.0.1:${port}`, pluginConfig({ prefix: randomPrefix() }));
  t.teardown(() => control.close());
  const err = await t.throwsAsync(control.publishWork(item(randomUUID())));
  const detail = control.health().detail ?? '';
  for (const text of [err!.message, detail, JSON.stringify((err as { context?: unknown }).context)]) {
    t.false(text.includes('s3cret-pass'), text);
  }
  t.true(err!.message.includes(`nats://sprout:********@127.0.0.1:${port}`), err!.message);
});

test('a site id that cannot be a subject token is refused before anything is sent', async (t) => {
  const control = await controlSide('nats://127.0.0.1:4222', pluginConfig({ prefix: randomPrefix() }));
  t.teardown(() => control.close());
  const err = await t.throwsAsync(control.publishWork(item('site.with.dots')));
  t.true(isSproutError(err, 'SPROUT_ERR_VALIDATION'), String(err));
  await t.throwsAsync(agentSide({ ...pluginConfig(), url: 'nats://127.0.0.1:4222' }, 'all>', randomUUID()), { message: /cannot name a NATS subject/ });
});

test('health follows the link through an outage, and work and reports flow again afterwards', async (t) => {
  const proxy = new LoopbackProxy(4222);
  await proxy.open();
  const config = pluginConfig({ prefix: randomPrefix(), ackWaitMs: 1_000, maxDeliver: 5, retryDelayMs: 200 });
  const sides: (TransportProvider | AgentTransport)[] = [];
  t.teardown(async () => {
    for (const side of sides.reverse()) await side.close();
    await proxy.cut();
    await removeStreams(config.prefix);
  });

  const control = await controlSide(proxy.url, config);
  sides.push(control);
  const reports: number[] = [];
  await control.onReport(async (r) => {
    reports.push(r.sequence);
  });
  const siteId = randomUUID();
  const agentId = randomUUID();
  const agent = await agentSide({ ...config, url: proxy.url }, siteId, agentId);
  sides.push(agent);
  const handled: string[] = [];
  await agent.consumeWork(async (w) => {
    handled.push(w.id);
  });
  const before = item(siteId);
  await control.publishWork(before);
  await until('work flows before the outage', () => handled.includes(before.id));
  t.like(control.health(), { connected: true });
  t.true(control.health().detail?.includes(`127.0.0.1:${proxy.port}`), control.health().detail);

  await proxy.cut();
  await until('both halves notice the outage', () => !control.health().connected && !agent.health().connected);
  t.regex(control.health().detail ?? '', /disconnected|reconnecting/);
  t.true(control.health().detail?.includes(`127.0.0.1:${proxy.port}`), control.health().detail);
  const refused = await t.throwsAsync(control.publishWork(item(siteId)));
  t.true(isSproutError(refused, 'SPROUT_ERR_UNAVAILABLE') && refused.message.includes(proxy.url), String(refused));
  await t.throwsAsync(agent.publishReports([{ agentId, siteId, sequence: 1, kind: 'event', at: new Date().toISOString(), payload: {} }]), {
    message: /unavailable/,
  });

  await proxy.open();
  await until('both halves reconnect', () => control.health().connected && agent.health().connected);
  const after = item(siteId);
  await control.publishWork(after);
  await agent.publishReports([{ agentId, siteId, sequence: 1, kind: 'event', at: new Date().toISOString(), payload: {} }]);
  await until('work and reports flow after the outage', () => handled.includes(after.id) && reports.includes(1));
  t.deepEqual(reports, [1]);
});
