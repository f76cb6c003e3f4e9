/**
 * What a machine's site step carries of its site's desired state. The whole state grows
 * with the site (every machine's boot intent, reservation and DNS records), and a site
 * step of each of N machines carrying all of it is O(N²) in the database, on the wire
 * and in the agent. So a step carries its own machine's part — the machine's boot
 * intent and reservations, plus the site's networks — which the agent merges into what
 * it has; and the whole state (DNS records too: the DNS provider lists a site's or a
 * zone's, never one machine's) rides along at most once per interval per site, so every
 * agent of the site converges on the whole within that interval without a separate sync.
 */
import type { Knex } from 'knex';
import type { DhcpProvider } from '../../capabilities/dhcp.ts';

/** Names the machine whose entries a partial state replaces; the agent keeps every other entry. */
export interface MachineScope {
  machineId: string;
  hostname: string;
  macs: string[];
}

/** How often a site's steps carry its whole desired state. */
const wholeStateEveryMs = 10_000;

export class MachineSiteState {
  private readonly wholeStateSentAt = new Map<string, number>();

  constructor(
    private readonly deps: {
      wholeState: (trx: Knex.Transaction, siteId: string) => Promise<Record<string, unknown>>;
      dhcp: () => Promise<DhcpProvider>;
      now: () => number;
    },
  ) {}

  /** The desired state a site step of `machineId` carries: the whole one when due, else the machine's part. */
  async forStep(trx: Knex.Transaction, siteId: string, machineId: string | null): Promise<Record<string, unknown>> {
    const sentAt = this.wholeStateSentAt.get(siteId);
    if (!machineId || sentAt === undefined || this.deps.now() - sentAt >= wholeStateEveryMs) {
      this.wholeStateSentAt.set(siteId, this.deps.now());
      return this.deps.wholeState(trx, siteId);
    }
    return this.machinePart(trx, siteId, machineId);
  }

  private async machinePart(trx: Knex.Transaction, siteId: string, machineId: string): Promise<Record<string, unknown>> {
    const site = await trx('sites').where({ id: siteId }).first('id', 'name');
    const machine = await trx('machines').where({ id: machineId }).first('id', 'hostname', 'arch', 'boot_mode');
    const networks = await trx('networks').where({ site_id: siteId }).orderBy('name');
    const interfaces: { mac: string; pxe: boolean }[] = await trx('interfaces').where({ machine_id: machineId }).select('mac', 'pxe');
    const macs = interfaces.map((i) => i.mac);
    const pxeMac = interfaces.find((i) => i.pxe)?.mac ?? null;
    const intent = await trx('boot_intents').where({ machine_id: machineId }).first('intent', 'params', 'workflow_id');
    const reservations = (await (await this.deps.dhcp()).listReservations(siteId, trx, macs)).filter((r) => macs.includes(r.mac));
    const scope: MachineScope = { machineId, hostname: machine.hostname, macs };
    return {
      scope,
      site,
      networks: networks.map((n) => ({ id: n.id, name: n.name, cidr: n.cidr, gateway: n.gateway, dnsServers: n.dns_servers, domain: n.domain, vlan: n.vlan, pxe: n.pxe, ranges: n.ranges })),
      reservations,
      bootIntents: intent ? [{ machineId, hostname: machine.hostname, arch: machine.arch, bootMode: machine.boot_mode, intent: intent.intent, params: intent.params, workflow: intent.workflow_id, mac: pxeMac }] : [],
    };
  }
}
