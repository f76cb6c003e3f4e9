/**
 * Plugin agent routes (PluginContext.agentRoutes): mounted under /v1/agents/:id/, for the
 * calling agent only (another agent's credential is refused and audited), audited through
 * the plugin's `ctx.audit`; a route the kernel or another plugin serves, or one not for
 * role agent, stops the start naming who is involved.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { Kernel, isSproutError, loadConfig, packagesIn, type SproutError } from '@sprout/kernel';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const builtins = packagesIn(join(fixtures, 'builtins'));
const plugin = (name: string) => join(fixtures, 'agent-routes', name);

function config() {
  const env = {
    SPROUT_DATA_DIR: mkdtempSync(join(tmpdir(), 'sprout-agent-routes-')),
    SPROUT_PLUGIN_DIR: join(fixtures, 'plugin-dirs', 'none'),
    SPROUT_LOG_LEVEL: 'silent',
  };
  return loadConfig({ env, cwd: tmpdir(), file: undefined }).config;
}

const boot = (...extra: string[]) =>
  Kernel.boot({ config: config(), builtinPlugins: [...builtins, ...extra.map(plugin)], logger: pino({ level: 'silent' }), store: { inMemory: true } });

async function bootFailure(t: any, ...extra: string[]): Promise<SproutError> {
  const err = await t.throwsAsync(boot(...extra));
  t.true(isSproutError(err, 'SPROUT_ERR_PLUGIN_VALIDATION'), String(err));
  return err as SproutError;
}

test.serial('an agent route of a plugin answers its own agent; another agent is refused with 403 and audited', async (t) => {
  const kernel = await boot('echo');
  t.teardown(() => kernel.stop());
  const admin = await kernel.services.tokens.create({ name: 'a', role: 'admin', createdBy: 'test' });
  const asAdmin = { authorization: `Bearer ${admin.secret}` };
  const site = await kernel.app!.inject({ method: 'POST', url: '/v1/sites', headers: asAdmin, payload: { name: 'lab' } });
  t.is(site.statusCode, 201, site.body);
  const register = async (hostname: string, joinToken: string) => {
    const made = await kernel.app!.inject({ method: 'POST', url: '/v1/agents/register', payload: { joinToken, hostname, version: '0', capabilities: [] } });
    t.is(made.statusCode, 201, made.body);
    return made.json() as { agentId: string; siteId: string; credential: string };
  };
  const first = await register('one', site.json().joinToken.token);
  const second = await register('two', (await kernel.app!.inject({ method: 'POST', url: `/v1/sites/lab/join-tokens`, headers: asAdmin })).json().token);
  const as = (agent: { credential: string }) => ({ authorization: `Bearer ${agent.credential}` });

  const own = await kernel.app!.inject({ url: `/v1/agents/${first.agentId}/echo`, headers: as(first) });
  t.is(own.statusCode, 200, own.body);
  t.deepEqual(own.json(), { agentId: first.agentId, siteId: first.siteId, actor: `agent:${first.agentId}` });

  const foreign = await kernel.app!.inject({ url: `/v1/agents/${first.agentId}/echo`, headers: as(second) });
  t.is(foreign.statusCode, 403);
  t.is(foreign.json().code, 'SPROUT_ERR_FORBIDDEN');
  t.is((await kernel.app!.inject({ url: `/v1/agents/${first.agentId}/echo`, headers: asAdmin })).statusCode, 403, 'an operator token is no agent');
  t.is((await kernel.app!.inject({ url: `/v1/agents/${first.agentId}/echo` })).statusCode, 401);
  const guardDenials = await kernel.services.auditLog.list({ outcome: 'denied', actor: `agent:${second.agentId}` });
  t.like(guardDenials.items[0], {
    targetId: first.agentId,
    requestId: foreign.json().requestId,
    details: { status: 403, reason: `agent:${second.agentId} may not act for agent ${first.agentId}` },
  });

  // What the plugin itself refuses and allows lands in the audit trail through ctx.audit, with the request's actor, action and target.
  const aboutOther = await kernel.app!.inject({
    method: 'POST',
    url: `/v1/agents/${second.agentId}/notes`,
    headers: as(second),
    payload: { about: first.agentId },
  });
  t.is(aboutOther.statusCode, 403);
  const pluginDenial = (await kernel.services.auditLog.list({ action: 'agent.note', outcome: 'denied' })).items;
  t.is(pluginDenial.length, 1, 'one record: the plugin marked the request audited');
  t.like(pluginDenial[0], {
    actor: `agent:${second.agentId}`,
    targetType: 'agent',
    targetId: first.agentId,
    requestId: aboutOther.json().requestId,
    details: { reason: 'a note about another agent' },
  });
  const aboutSelf = await kernel.app!.inject({
    method: 'POST',
    url: `/v1/agents/${second.agentId}/notes`,
    headers: as(second),
    payload: { about: second.agentId },
  });
  t.is(aboutSelf.statusCode, 200, aboutSelf.body);
  t.like((await kernel.services.auditLog.list({ action: 'agent.note', outcome: 'success' })).items[0], {
    actor: `agent:${second.agentId}`,
    targetId: second.agentId,
  });

  // The plugin's agent routes are in the OpenAPI document with the agent protocol, the id a uuid.
  const doc = (await kernel.app!.inject({ url: '/openapi.json' })).json();
  const echo = doc.paths['/v1/agents/{id}/echo'].get;
  t.deepEqual(echo.tags, ['agent protocol']);
  t.like(
    echo.parameters.find((p: any) => p.name === 'id'),
    { in: 'path', required: true, schema: { format: 'uuid' } },
  );
});

test.serial('an agent route no loaded plugin serves is a conflict naming the transport in use', async (t) => {
  const kernel = await boot();
  t.teardown(() => kernel.stop());
  const missing = await kernel.app!.inject({ url: '/v1/agents/7f8c1d3e-0b5a-4d3c-9e2f-1a2b3c4d5e6f/work' });
  t.is(missing.statusCode, 409);
  t.is(missing.json().code, 'SPROUT_ERR_CONFLICT');
  t.regex(missing.json().detail, /no route GET \/v1\/agents\/\S+\/work: this control plane hands work to agents through none; .*restart the agent/);
  t.is((await kernel.app!.inject({ url: '/v1/nothing-here' })).statusCode, 404, 'other unknown routes stay 404');
});

test.serial('two plugins serving the same agent route stop the start, naming both', async (t) => {
  const err = await bootFailure(t, 'echo', 'echo-rival');
  t.regex(err.message, /plugin agent-echo-rival: agent route GET \/v1\/agents\/:id\/echo is already served by plugin agent-echo; only one may serve it/);
});

test.serial('a plugin agent route the kernel serves stops the start', async (t) => {
  const err = await bootFailure(t, 'heartbeat-taker');
  t.regex(err.message, /plugin agent-heartbeat: agent route POST \/v1\/agents\/:id\/heartbeat is already served by the kernel/);
});

test.serial('an agent route for another role than agent stops the start', async (t) => {
  const err = await bootFailure(t, 'operator-route');
  t.regex(err.message, /plugin agent-operator: agent route GET \/v1\/agents\/:id\/inspect declares role operator; agent routes are for role agent/);
});
