/**
 * A site's desired state as its agent needs it: the provisioning networks, DHCP
 * reservations, boot intents and DNS records. Published by `sync-site` workflows; the
 * agent keeps serving from the last one it applied when the control plane is away.
 */
import type { Knex } from 'knex';
import type { DhcpProvider } from '../../capabilities/dhcp.ts';
import type { DnsProvider } from '../../capabilities/dns.ts';

export async function desiredStateOf(trx: Knex.Transaction, siteId: string, providers: { dhcp: () => Promise<DhcpProvider>; dns: () => Promise<DnsProvider> }): Promise<Record<string, unknown>> {
  const site = await trx('sites').where({ id: siteId }).first('id', 'name');
  const networks = await trx('networks').where({ site_id: siteId }).orderBy('name');
  const intents = await trx('boot_intents')
    .join('machines', 'machines.id', 'boot_intents.machine_id')
    .where('machines.site_id', siteId)
    .select('machines.id as machineId', 'machines.hostname', 'machines.arch', 'machines.boot_mode as bootMode', 'boot_intents.intent', 'boot_intents.params', 'boot_intents.workflow_id as workflow');
  const macs = intents.length ? await trx('interfaces').whereIn('machine_id', intents.map((i) => i.machineId)).where({ pxe: true }).select('machine_id', 'mac') : [];
  return {
    site,
    networks: networks.map((n) => ({ id: n.id, name: n.name, cidr: n.cidr, gateway: n.gateway, dnsServers: n.dns_servers, domain: n.domain, vlan: n.vlan, pxe: n.pxe, ranges: n.ranges })),
    reservations: await (await providers.dhcp()).listReservations(siteId, trx),
    bootIntents: intents.map((i) => ({ ...i, mac: macs.find((m) => m.machine_id === i.machineId)?.mac ?? null })),
    dnsRecords: await (await providers.dns()).listRecords(siteId, undefined, trx),
  };
}
