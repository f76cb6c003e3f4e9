/**
 * The contract between the control plane and a site's agents: everything the agent
 * serves (networks, DHCP reservations, boot intents, DNS records), as one document with a
 * revision that grows with every change at the site. Built in one place
 * (`desired-state.ts`), validated by the agent before it applies anything: a document
 * that fails here is refused and the agent keeps serving the last valid one.
 */
import Type, { type Static, type TSchema } from 'typebox';

const uuid = Type.String({ format: 'uuid' });
const ipv4 = Type.String({ format: 'ipv4' });
const mac = Type.String({ pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' });
const cidr = Type.String({
  pattern: '^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}/([0-9]|[12][0-9]|3[0-2])$',
});
const dnsName = Type.String({ minLength: 1, maxLength: 255 });
const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const DesiredNetworkSchema = Type.Object({
  id: uuid,
  name: Type.String({ minLength: 1, maxLength: 128 }),
  cidr,
  gateway: nullable(ipv4),
  dnsServers: Type.Array(ipv4),
  domain: nullable(dnsName),
  vlan: nullable(Type.Integer({ minimum: 0, maximum: 4094 })),
  pxe: Type.Boolean(),
  ranges: Type.Array(Type.Object({ kind: Type.Union([Type.Literal('dynamic'), Type.Literal('reserved')]), start: ipv4, end: ipv4 })),
});

export const DesiredReservationSchema = Type.Object({
  siteId: uuid,
  networkId: uuid,
  mac,
  address: ipv4,
  hostname: Type.Optional(dnsName),
  netboot: Type.Boolean(),
});

export const BootIntentSchema = Type.Object({
  machineId: uuid,
  hostname: dnsName,
  arch: Type.Union([Type.Literal('x86_64'), Type.Literal('arm64')]),
  bootMode: Type.Union([Type.Literal('bios'), Type.Literal('uefi')]),
  /** `erase`: the installer wipes the machine's disks (release --erase). */
  intent: Type.Union([Type.Literal('commission'), Type.Literal('deploy'), Type.Literal('local'), Type.Literal('erase')]),
  params: Type.Record(Type.String(), Type.Unknown()),
  workflow: nullable(uuid),
  mac: nullable(mac),
});

export const DesiredDnsRecordSchema = Type.Object({
  siteId: uuid,
  zone: dnsName,
  name: dnsName,
  type: Type.Union([Type.Literal('A'), Type.Literal('PTR')]),
  value: dnsName,
  ttl: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const SiteDesiredStateSchema = Type.Object(
  {
    /** Grows with every change at the site; an agent never applies a lower one after a higher one. */
    revision: Type.Integer({ minimum: 0 }),
    site: Type.Object({ id: uuid, name: Type.String() }),
    networks: Type.Array(DesiredNetworkSchema),
    reservations: Type.Array(DesiredReservationSchema),
    bootIntents: Type.Array(BootIntentSchema),
    dnsRecords: Type.Array(DesiredDnsRecordSchema),
  },
  { description: "A site's desired state: what its agents serve" },
);

export type SiteDesiredStateDocument = Static<typeof SiteDesiredStateSchema>;
export type BootIntent = Static<typeof BootIntentSchema>;

/** Checked without TypeBox when valid (the agent's light path): see agent-contract.ts. */
export { desiredStateProblems } from '../agent-contract.ts';
