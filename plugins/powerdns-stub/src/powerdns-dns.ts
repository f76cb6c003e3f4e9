/**
 * DNS backed by PowerDNS: each Sprout record is an RRset (one record) in one of the
 * zones config lets the stub touch, written with `PATCH …/zones/{zone}` (REPLACE or
 * DELETE). Which site wrote an RRset rides along as an RRset comment (account `sprout`),
 * so records read back from PowerDNS say whose they are and records made by others are
 * left out. A name and type is one RRset whichever site writes it: sites share the zones.
 */
import { normaliseRecord, normaliseRecordKey, SproutError, type DnsProvider, type DnsRecord, type DnsRecordKey } from '@sprout/kernel/sdk';
import type { PowerdnsClient } from './powerdns-client.ts';

/** `lab.example` → `lab.example.`: names are canonical on PowerDNS's wire. */
const canonical = (name: string) => `${name}.`;

export interface PowerdnsDnsConfig {
  serverId: string;
  /** Zones the stub may write, lowercase or not, with or without the trailing dot. */
  zones: string[];
  /** TTL of a record that names none. */
  defaultTtl: number;
}

interface Rrset {
  name: string;
  type: string;
  ttl?: number;
  changetype: 'REPLACE' | 'DELETE';
  records?: { content: string; disabled: boolean }[];
  comments?: { content: string; account: string }[];
}

interface ZoneAnswer {
  name: string;
  rrsets: { name: string; type: string; ttl: number; records: { content: string; disabled?: boolean }[]; comments?: { content: string; account?: string }[] }[];
}

const account = 'sprout';
const siteComment = (siteId: string) => `site=${siteId}`;

export class PowerdnsDns implements DnsProvider {
  constructor(
    private readonly client: PowerdnsClient,
    private readonly config: PowerdnsDnsConfig,
    private readonly pluginId: string,
  ) {}

  async upsertRecords(records: DnsRecord[]): Promise<void> {
    const normalised = records.map(normaliseRecord);
    normalised.forEach((r) => this.allowedZone(r.zone));
    await this.patchByZone(
      normalised.map((r) => ({
        zone: r.zone,
        rrset: {
          name: canonical(r.name),
          type: r.type,
          ttl: r.ttl ?? this.config.defaultTtl,
          changetype: 'REPLACE',
          records: [{ content: r.type === 'PTR' ? canonical(r.value) : r.value, disabled: false }],
          comments: [{ content: siteComment(r.siteId), account }],
        },
      })),
    );
  }

  async removeRecords(records: DnsRecordKey[]): Promise<void> {
    const keys = records.map(normaliseRecordKey);
    keys.forEach((k) => this.allowedZone(k.zone));
    await this.patchByZone(keys.map((k) => ({ zone: k.zone, rrset: { name: canonical(k.name), type: k.type, changetype: 'DELETE' } })));
  }

  async listRecords(siteId: string, zone?: string): Promise<DnsRecord[]> {
    const allowed = this.zones();
    const wanted = zone === undefined ? allowed : allowed.filter((z) => z === normaliseRecordKey({ siteId, zone, name: zone, type: 'A' }).zone);
    const found: DnsRecord[] = [];
    for (const z of wanted) {
      const answer = await this.client.call<ZoneAnswer>('GET', this.zonePath(z), { accept: [200, 404, 422] });
      if (answer.status !== 200) throw this.missingZone(z, answer.status, answer.body);
      for (const rrset of answer.body.rrsets ?? []) {
        if (rrset.type !== 'A' && rrset.type !== 'PTR') continue;
        if (!(rrset.comments ?? []).some((c) => c.account === account && c.content === siteComment(siteId))) continue;
        const record = rrset.records.find((r) => !r.disabled);
        if (!record) continue;
        found.push({
          siteId,
          zone: z,
          name: rrset.name.toLowerCase().replace(/\.$/, ''),
          type: rrset.type,
          value: rrset.type === 'PTR' ? record.content.toLowerCase().replace(/\.$/, '') : record.content,
          ttl: rrset.ttl,
        });
      }
    }
    return found;
  }

  /** One PATCH per zone; the last change of a name and type in a batch wins, as PowerDNS refuses duplicates. */
  private async patchByZone(changes: { zone: string; rrset: Rrset }[]): Promise<void> {
    const byZone = new Map<string, Map<string, Rrset>>();
    for (const { zone, rrset } of changes) {
      const rrsets = byZone.get(zone) ?? new Map<string, Rrset>();
      rrsets.set(`${rrset.name} ${rrset.type}`, rrset);
      byZone.set(zone, rrsets);
    }
    for (const [zone, rrsets] of byZone) {
      const answer = await this.client.call<{ error?: string }>('PATCH', this.zonePath(zone), {
        body: { rrsets: [...rrsets.values()] },
        accept: [204, 404, 422],
      });
      if (answer.status === 404) throw this.missingZone(zone, answer.status, answer.body);
      if (answer.status === 422) {
        throw new SproutError('SPROUT_ERR_VALIDATION', `PowerDNS refused the records for zone ${zone}: ${answer.body?.error ?? '(no reason given)'}`, {
          context: { plugin: this.pluginId, upstreamStatus: 422, upstreamBody: answer.body },
        });
      }
    }
  }

  private zonePath(zone: string): string {
    return `api/v1/servers/${encodeURIComponent(this.config.serverId)}/zones/${encodeURIComponent(canonical(zone))}`;
  }

  private zones(): string[] {
    return [...new Set(this.config.zones.map((z) => z.trim().toLowerCase().replace(/\.$/, '')))];
  }

  private allowedZone(zone: string): void {
    if (this.zones().includes(zone)) return;
    const key = `plugins.${this.pluginId}.zones`;
    throw new SproutError(
      'SPROUT_ERR_CONFIG',
      `zone ${zone} is not one ${this.pluginId} may write: add it to ${key} (now: ${this.zones().join(', ') || 'none'})`,
      {
        details: [{ field: key, message: `does not list ${zone}` }],
        context: { plugin: this.pluginId, zone },
      },
    );
  }

  private missingZone(zone: string, status: number, body: unknown): SproutError {
    const said = (body as { error?: string } | undefined)?.error ?? JSON.stringify(body);
    return new SproutError(
      'SPROUT_ERR_CONFIG',
      `zone ${zone} (in plugins.${this.pluginId}.zones) is not on PowerDNS server ${this.config.serverId}: ${status} ${said}; create it in PowerDNS first`,
      {
        context: { plugin: this.pluginId, zone, upstreamStatus: status },
      },
    );
  }
}
