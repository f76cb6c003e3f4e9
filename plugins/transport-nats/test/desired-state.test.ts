/**
 * The desired-state document travels through the STATE key-value bucket: the control
 * plane puts each site's document under the site's key, and an agent whose NATS user has
 * only `agentPermissions(prefix, siteId)` watches its own site's key — the current
 * document first, then each update — and cannot watch another site's. Runs a nats-server
 * of its own on loopback.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import type { AgentTransport, SiteDesiredStateDocument, TransportProvider } from '@sprout/kernel';
import { agentPermissions } from '../src/index.ts';
import { agentSide, controlSide, memoryLogger, pluginConfig, until } from '@sprout/test-support/nats-world.ts';
import { startNatsServer } from '@sprout/test-support/nats-server-process.ts';

const documentOf = (siteId: string, revision: number): SiteDesiredStateDocument => ({
  revision,
  site: { id: siteId, name: `site-${siteId.slice(0, 8)}` },
  networks: [],
  reservations: [],
  bootIntents: [],
  dnsRecords: [],
});

test("an agent watches its own site's desired state through JetStream, current document first, and never another site's", async (t) => {
  const prefix = 'sprout';
  const [siteA, siteB] = [randomUUID(), randomUUID()];
  const server = await startNatsServer({
    users: [
      { user: 'control-plane', password: 'control-secret' },
      { user: `agent-${siteA}`, password: 'agent-a-secret', permissions: agentPermissions(prefix, siteA) },
      { user: `agent-${siteB}`, password: 'agent-b-secret', permissions: agentPermissions(prefix, siteB) },
    ],
  });
  const sides: (TransportProvider | AgentTransport)[] = [];
  t.teardown(async () => {
    for (const side of sides.reverse()) await side.close();
    await server.stop();
  });
  const config = pluginConfig({ prefix });
  const control = await controlSide(`nats://control-plane:control-secret@127.0.0.1:${server.port}`, config);
  sides.push(control);
  t.truthy(control.publishDesiredState, 'transport-nats publishes desired state');
  await control.publishDesiredState!(siteA, documentOf(siteA, 1));
  await control.publishDesiredState!(siteB, documentOf(siteB, 7));

  const agentA = await agentSide({ ...config, url: `nats://agent-${siteA}:agent-a-secret@127.0.0.1:${server.port}` }, siteA, randomUUID());
  sides.push(agentA);
  const gotA: SiteDesiredStateDocument[] = [];
  await agentA.watchDesiredState!((document) => void gotA.push(document as SiteDesiredStateDocument));
  await until("site A's agent gets A's current document", () => gotA.length > 0);

  await control.publishDesiredState!(siteB, documentOf(siteB, 8));
  await control.publishDesiredState!(siteA, documentOf(siteA, 2));
  await until("site A's agent gets A's update", () => gotA.some((d) => d.revision === 2));

  // B's own agent sees B's latest document, so B's documents were there to be seen.
  const agentB = await agentSide({ ...config, url: `nats://agent-${siteB}:agent-b-secret@127.0.0.1:${server.port}` }, siteB, randomUUID());
  sides.push(agentB);
  const gotB: SiteDesiredStateDocument[] = [];
  await agentB.watchDesiredState!((document) => void gotB.push(document as SiteDesiredStateDocument));
  await until("site B's agent gets B's current document", () => gotB.length > 0);

  t.deepEqual(
    gotA.map((d) => [d.site.id, d.revision]),
    [
      [siteA, 1],
      [siteA, 2],
    ],
  );
  t.deepEqual(gotA[1], documentOf(siteA, 2));
  t.deepEqual(
    gotB.map((d) => [d.site.id, d.revision]),
    [[siteB, 8]],
  );

  // Site A's credentials posing as site B's agent: the watch of B's key is refused, nothing arrives.
  const logs = memoryLogger();
  const impostor = await agentSide({ ...config, url: `nats://agent-${siteA}:agent-a-secret@127.0.0.1:${server.port}` }, siteB, randomUUID(), logs);
  sides.push(impostor);
  const stolen: unknown[] = [];
  await impostor.watchDesiredState!((document) => void stolen.push(document));
  await until("watching B's key with A's credentials is refused", () =>
    logs.entries.some((e) => e.level === 'warn' && /cannot watch the desired state/.test(e.message ?? '')),
  );
  const refusal = logs.entries.find((e) => e.level === 'warn' && /cannot watch the desired state/.test(e.message ?? ''))!;
  t.regex(String((refusal.fields as { err?: unknown }).err), /permission/i);

  // With A's credentials and A's own inbox, only the key is wrong: the server refuses to create the watch.
  const raw = await connect({ servers: `127.0.0.1:${server.port}`, user: `agent-${siteA}`, pass: 'agent-a-secret', inboxPrefix: `_INBOX.agent-${siteA}` });
  t.teardown(() => raw.close());
  const bucket = await new Kvm(raw).open('SPROUT_STATE');
  const own = await bucket.watch({ key: siteA });
  let ownLatest: number | undefined;
  for await (const entry of own) {
    ownLatest = entry.json<SiteDesiredStateDocument>().revision;
    break;
  }
  t.is(ownLatest, 2);
  await t.throwsAsync(bucket.watch({ key: siteB }), { message: /permission/i });
  await t.throwsAsync(bucket.watch({ key: '>' }), { message: /permission/i });
  await control.publishDesiredState!(siteB, documentOf(siteB, 9));
  await until("B's own agent gets B's update", () => gotB.some((d) => d.revision === 9));
  t.deepEqual(stolen, []);
  t.false(gotA.some((d) => d.site.id === siteB));
});
