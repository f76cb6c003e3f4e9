/**
 * The control-plane steps: each prepares or tears down what a machine needs at its
 * site (address, DHCP reservation, DNS records, boot intent) through the capabilities,
 * inside the engine's transaction. Every step is idempotent: a retry or a replay after a
 * crash finds its own earlier work and goes on.
 */
import type { Knex } from 'knex';
import type { DhcpProvider } from '../../capabilities/dhcp.ts';
import type { DnsProvider } from '../../capabilities/dns.ts';
import { recordsForAddress, recordsOwnedBy } from '../../capabilities/dns-records.ts';
import type { SproutConfig } from '../../config/schema.ts';
import { SproutError } from '../../errors/index.ts';
import type { MachineRow } from '../machines/find-machine.ts';
import { pxeInterface } from '../machines/find-machine.ts';
import type { NetworkService } from '../networks/network-service.ts';

export interface StepContext {
  trx: Knex.Transaction;
  workflow: { id: string; kind: string; params: Record<string, unknown>; site_id: string };
  machine: MachineRow;
  /** Results of the steps that already succeeded, by step name. */
  results: Record<string, Record<string, unknown>>;
  networks: NetworkService;
  dhcp: () => Promise<DhcpProvider>;
  dns: () => Promise<DnsProvider>;
  config: SproutConfig;
}

export type ControlStep = (ctx: StepContext) => Promise<Record<string, unknown>>;

async function provisioningAddress(ctx: StepContext) {
  const nic = await pxeInterface(ctx.trx, ctx.machine.id);
  if (!nic) throw new SproutError('SPROUT_ERR_CONFLICT', `machine ${ctx.machine.hostname} has no network interface to boot from`);
  const { network, allocation } = await ctx.networks.ensureMachineAddress(
    { id: ctx.machine.id, siteId: ctx.machine.site_id, hostname: ctx.machine.hostname, interfaceId: nic.id, mac: nic.mac },
    ctx.trx,
  );
  return { nic, network, allocation };
}

async function setBootIntent(ctx: StepContext, intent: 'commission' | 'deploy' | 'local' | 'erase', params: Record<string, unknown>) {
  await ctx
    .trx('boot_intents')
    .insert({ machine_id: ctx.machine.id, intent, params: JSON.stringify(params), workflow_id: ctx.workflow.id, updated_at: ctx.trx.fn.now() })
    .onConflict('machine_id')
    .merge();
}

export const controlSteps: Record<string, ControlStep> = {
  'allocate-ip': async (ctx) => {
    const { network, allocation } = await provisioningAddress(ctx);
    return { address: allocation.address, network: network.name, provider: allocation.provider };
  },

  'reserve-dhcp': async (ctx) => {
    const { nic, network, allocation } = await provisioningAddress(ctx);
    await (await ctx.dhcp()).reserve(
      { siteId: ctx.machine.site_id, networkId: network.id, mac: nic.mac, address: allocation.address, hostname: ctx.machine.hostname, netboot: true },
      ctx.trx,
    );
    return { mac: nic.mac, address: allocation.address };
  },

  'write-dns': async (ctx) => {
    const { network, allocation } = await provisioningAddress(ctx);
    if (!network.domain) return { skipped: `network ${network.name} has no domain` };
    const records = recordsForAddress({ siteId: ctx.machine.site_id, hostname: ctx.machine.hostname, domain: network.domain, address: allocation.address });
    await (await ctx.dns()).upsertRecords(records, ctx.trx);
    return { records: records.map((r) => `${r.name} ${r.type} ${r.value}`) };
  },

  'publish-boot-intent': async (ctx) => {
    // A release publishes an intent only with --erase: the installer boots to wipe the disks.
    const intent = ctx.workflow.kind === 'deploy' ? 'deploy' : ctx.workflow.kind === 'release' ? 'erase' : 'commission';
    // The test plans travel with the step's work item, which is where the agent reads them:
    // in the intent they were most of every desired-state document of a site commissioning a rack.
    const { hwtestDefinitions: _plans, ...params } = ctx.workflow.params;
    await setBootIntent(ctx, intent, params);
    return { intent };
  },

  'set-local-boot': async (ctx) => {
    await setBootIntent(ctx, 'local', {});
    return { intent: 'local' };
  },

  'clear-boot-intent': async (ctx) => {
    await ctx.trx('boot_intents').where({ machine_id: ctx.machine.id }).delete();
    return { intent: 'none' };
  },

  'release-addresses': async (ctx) => {
    if (ctx.config.lifecycle.keepAddressesOnRelease) return { kept: true };
    return { released: true, ...(await forgetMachineAtSite(ctx, ctx.trx, ctx.machine)) };
  },
};

/**
 * Removes what a machine holds at its site — DHCP reservations, DNS records, addresses —
 * in `trx`; the caller bumps the site's revision so its agents drop them too.
 */
export async function forgetMachineAtSite(
  providers: Pick<StepContext, 'dhcp' | 'dns' | 'networks'>,
  trx: Knex.Transaction,
  machine: Pick<MachineRow, 'id' | 'site_id' | 'hostname'>,
): Promise<{ dnsRecords: number }> {
  const nics = await trx('interfaces').where({ machine_id: machine.id });
  const dhcp = await providers.dhcp();
  for (const nic of nics) await dhcp.unreserve(machine.site_id, nic.mac, trx);
  const dns = await providers.dns();
  const records = await dns.listRecords(machine.site_id, undefined, trx);
  const mine = recordsOwnedBy(records, machine.hostname);
  if (mine.length > 0) await dns.removeRecords(mine, trx);
  await providers.networks.releaseMachineAddresses(machine.id, trx);
  return { dnsRecords: mine.length };
}
