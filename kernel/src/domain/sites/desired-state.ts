/**
 * Builds a site's desired state document (the contract in `desired-state-schema.ts`):
 * the one place that decides what a site's agents serve. The revision is read first, so
 * the document holds at least every change up to it (a change committed meanwhile is
 * in it too, and comes again with its own revision).
 */
import type { Knex } from 'knex';
import type { DhcpProvider } from '../../capabilities/dhcp.ts';
import type { DnsProvider } from '../../capabilities/dns.ts';
import type { SiteDesiredStateDocument } from './desired-state-schema.ts';

export async function desiredStateOf(
  db: Knex | Knex.Transaction,
  siteId: string,
  providers: { dhcp: () => Promise<DhcpProvider>; dns: () => Promise<DnsProvider> },
): Promise<SiteDesiredStateDocument> {
  const site = await db('sites').where({ id: siteId }).first('id', 'name', 'desired_revision');
  const networks = await db('networks').where({ site_id: siteId }).orderBy('name');
  const intents = await db('boot_intents')
    .join('machines', 'machines.id', 'boot_intents.machine_id')
    .where('machines.site_id', siteId)
    .orderBy('machines.hostname')
    .select(
      'machines.id as machineId',
      'machines.hostname',
      'machines.arch',
      'machines.boot_mode as bootMode',
      'boot_intents.intent',
      'boot_intents.params',
      'boot_intents.workflow_id as workflow',
    );
  const macs = intents.length
    ? await db('interfaces')
        .whereIn(
          'machine_id',
          intents.map((i) => i.machineId),
        )
        .where({ pxe: true })
        .select('machine_id', 'mac')
    : [];
  const macOf = new Map<string, string>();
  for (const m of macs) if (!macOf.has(m.machine_id)) macOf.set(m.machine_id, m.mac);
  return {
    revision: Number(site?.desired_revision ?? 0),
    site: { id: site?.id ?? siteId, name: site?.name ?? '' },
    networks: networks.map((n) => ({
      id: n.id,
      name: n.name,
      cidr: n.cidr,
      gateway: n.gateway,
      dnsServers: n.dns_servers ?? [],
      domain: n.domain ?? null,
      vlan: n.vlan ?? null,
      pxe: n.pxe,
      ranges: n.ranges ?? [],
    })),
    reservations: await (await providers.dhcp()).listReservations(siteId, db),
    bootIntents: intents.map((i) => ({
      ...i,
      params: i.params ?? {},
      workflow: i.workflow ?? null,
      mac: macOf.get(i.machineId) ?? null,
    })),
    dnsRecords: await (await providers.dns()).listRecords(siteId, undefined, db),
  };
}
