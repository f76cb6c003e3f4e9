/**
 * Both halves of transport-http for the contract: one kernel (PGlite in memory) serving
 * the agent routes on a loopback port, agents with real credentials, and control-plane
 * sides that are fresh instances on the kernel's outbox, as replicas would be. The routes
 * go to the newest control side still open (that replica answers the agent's requests),
 * else to one that takes no reports, as a control plane still starting would.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AgentTransport, TransportProvider, WorkItem } from '@sprout/kernel';
import { transportCapability } from '@sprout/kernel';
import type { TransportWorld } from '@sprout/kernel/testing';
import { startHarness } from '@sprout/test-support/harness.ts';
import { httpAgentTransport } from '../src/agent-client.ts';
import { HttpWorkQueue, type HttpTransportSettings } from '../src/work-queue.ts';

const yaml = 'plugins:\n  transport-http: { ackWaitMs: 1000, maxDeliver: 3, pollIntervalMs: 50, waitSeconds: 1 }\n';
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

/** Kernels boot one at a time: several PGlite instances starting at once can each take longer than knex waits. */
let booting: Promise<unknown> = Promise.resolve();

export async function httpWorld(): Promise<TransportWorld> {
  const boot = booting.then(() => startHarness('pglite', { yaml }));
  booting = boot.catch(() => undefined);
  const harness = await boot;
  const { kernel } = harness;
  const db = kernel.store.db;
  // What a registering agent gets: the plugin's config, defaults filled in.
  const settings = kernel.agentTransportSettings().settings as HttpTransportSettings & Record<string, unknown>;

  // The kernel's own instance would apply the contract's reports with the kernel's handlers;
  // it is closed, and the routes get the newest open control side instead.
  const own = await kernel.capability(transportCapability);
  const idle = new HttpWorkQueue(kernel.services.workQueue, settings);
  const open: HttpWorkQueue[] = [];
  kernel.container.register({ 'capability.transport': { resolve: () => Promise.resolve([open.at(-1) ?? idle]) } });
  await own.close();
  const controlPlaneUrl = await kernel.app!.listen({ host: '127.0.0.1', port: 0 });
  const ensureSite = (siteId: string) =>
    db('sites')
      .insert({ id: siteId, name: `s-${randomBytes(4).toString('hex')}` })
      .onConflict('id')
      .ignore();

  const sides: { close(): Promise<void> }[] = [];
  return {
    settleMs: 2500,
    async control(): Promise<TransportProvider> {
      const side = new HttpWorkQueue(kernel.services.workQueue, settings, quiet);
      open.push(side);
      const close = side.close.bind(side);
      side.close = async () => {
        open.splice(open.indexOf(side), 1);
        await close();
      };
      sides.push(side);
      return side;
    },
    /** As a workflow step does: an outbox row, whose id the item then carries. */
    async publish(_control, item): Promise<WorkItem> {
      await ensureSite(item.siteId);
      const [row] = await db('outbox')
        .insert({
          site_id: item.siteId,
          kind: item.kind,
          workflow_id: item.workflowId ?? null,
          step_id: item.stepId ?? null,
          payload: JSON.stringify(item.payload),
        })
        .returning('id');
      return { ...item, id: `wi-${typeof row === 'object' ? row.id : row}` };
    },
    async agent(siteId, agentId): Promise<AgentTransport> {
      await ensureSite(siteId);
      const credential = `sprout_agent_${randomBytes(32).toString('base64url')}`;
      // Stored as the kernel's hashSecret stores it: SHA-256, hex.
      await db('agents').insert({
        id: agentId,
        site_id: siteId,
        hostname: `agent-${agentId.slice(0, 8)}`,
        credential_hash: createHash('sha256').update(credential).digest('hex'),
      });
      const side = await httpAgentTransport({ controlPlaneUrl, agentId, siteId, credential, settings, logger: quiet });
      sides.unshift(side);
      return side;
    },
    async cleanup() {
      for (const side of sides) await side.close();
      // An aborted fetch leaves undici's next socket open with no request on it, which the
      // server would wait on until its headers timeout; every agent is closed by now.
      kernel.app!.server.closeAllConnections();
      await harness.stop();
    },
  };
}
