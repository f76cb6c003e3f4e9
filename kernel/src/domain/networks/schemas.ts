/**
 * Shapes of networks and IP allocations on the wire. The route schemas, the OpenAPI
 * document and the service's input types all come from these.
 */
import Type, { type Static } from 'typebox';

export const Ipv4Address = Type.String({ format: 'ipv4', description: 'IPv4 address, e.g. 198.18.0.1' });

export const RangeKind = Type.Union([Type.Literal('dynamic'), Type.Literal('reserved')], {
  description: '`dynamic`: handed out by DHCP to unknown clients; `reserved`: never handed out by Sprout',
});

export const AddressRange = Type.Object({ kind: RangeKind, start: Ipv4Address, end: Ipv4Address }, { additionalProperties: false });
export type AddressRange = Static<typeof AddressRange>;

export const NetworkName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$', description: 'Unique per site' });

const NetworkCidr = (description = 'IPv4 network in CIDR notation, e.g. 198.18.0.0/24 (no host bits)') =>
  Type.String({ pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$', description });

export const CreateNetworkBody = Type.Object(
  {
    site: Type.String({ minLength: 1, maxLength: 64, description: 'Site id or name' }),
    name: NetworkName,
    cidr: NetworkCidr(),
    gateway: Ipv4Address,
    dnsServers: Type.Optional(Type.Array(Ipv4Address, { maxItems: 8, description: 'Resolvers handed to machines' })),
    domain: Type.Optional(Type.String({ format: 'hostname', maxLength: 253, description: 'DNS domain of the machines in this network' })),
    vlan: Type.Optional(Type.Integer({ minimum: 1, maximum: 4094 })),
    pxe: Type.Optional(Type.Boolean({ default: true, description: 'Machines at the site PXE-boot from this network' })),
    ranges: Type.Optional(Type.Array(AddressRange, { maxItems: 64 })),
  },
  { additionalProperties: false },
);
export type CreateNetworkBody = Static<typeof CreateNetworkBody>;

export const UpdateNetworkBody = Type.Object(
  {
    name: Type.Optional(NetworkName),
    cidr: Type.Optional(NetworkCidr('IPv4 network in CIDR notation (no host bits); refused (409) while addresses are allocated in the network')),
    gateway: Type.Optional(Ipv4Address),
    dnsServers: Type.Optional(Type.Array(Ipv4Address, { maxItems: 8, description: 'Replaces the resolvers handed to machines' })),
    domain: Type.Optional(
      Type.Union([Type.String({ format: 'hostname', maxLength: 253 }), Type.Null()], {
        description: 'DNS domain of the machines in this network; null removes it',
      }),
    ),
    vlan: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 4094 }), Type.Null()], { description: 'null removes it' })),
    pxe: Type.Optional(Type.Boolean({ description: 'Machines at the site PXE-boot from this network' })),
    ranges: Type.Optional(
      Type.Array(AddressRange, { maxItems: 64, description: 'Replaces every range; refused (409) when an allocated address would fall inside one' }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateNetworkBody = Static<typeof UpdateNetworkBody>;

export const NetworkSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  site: Type.Object({ id: Type.String(), name: Type.String() }),
  name: Type.String(),
  cidr: Type.String(),
  gateway: Type.String(),
  dnsServers: Type.Array(Type.String()),
  domain: Type.Union([Type.String(), Type.Null()]),
  vlan: Type.Union([Type.Integer(), Type.Null()]),
  pxe: Type.Boolean(),
  ranges: Type.Array(AddressRange),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});
export type Network = Static<typeof NetworkSchema>;

export const UtilisationSchema = Type.Object(
  {
    total: Type.Integer({ description: 'Usable host addresses (the block without network and broadcast address)' }),
    allocated: Type.Integer({ description: 'Addresses allocated through IPAM' }),
    dynamic: Type.Integer({ description: 'Addresses in dynamic ranges' }),
    reserved: Type.Integer({ description: 'Addresses in reserved ranges' }),
    free: Type.Integer({ description: 'total − allocated − dynamic − reserved − the gateway' }),
  },
  { description: 'Address counts of a network' },
);
export type Utilisation = Static<typeof UtilisationSchema>;

export const NetworkWithUtilisationSchema = Type.Object({ ...NetworkSchema.properties, utilisation: UtilisationSchema });

export const AllocateBody = Type.Object(
  {
    machine: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "Machine id or hostname (at the network's site)" })),
    interface: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'Interface name or MAC address of that machine' })),
    hostname: Type.Optional(Type.String({ format: 'hostname', maxLength: 253, description: "Defaults to the machine's hostname" })),
    address: Type.Optional(
      Type.String({ format: 'ipv4', description: 'A specific address; without it the next free one outside dynamic and reserved ranges' }),
    ),
  },
  { additionalProperties: false },
);
export type AllocateBody = Static<typeof AllocateBody>;

export const AllocationSchema = Type.Object({
  id: Type.String(),
  networkId: Type.String(),
  address: Type.String(),
  machineId: Type.Union([Type.String(), Type.Null()]),
  interfaceId: Type.Union([Type.String(), Type.Null()]),
  hostname: Type.Union([Type.String(), Type.Null()]),
  provider: Type.String({ description: 'Plugin id of the IPAM provider that served the allocation' }),
  machineHostname: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: "The machine's hostname (in lists)" })),
  interfaceName: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: "The interface's name (in lists)" })),
});

export const NetworkParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'Network id or name' }) });
export const AllocationParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'Network id or name' }),
  allocationId: Type.String({ minLength: 1, maxLength: 128 }),
});
export const SiteQuery = Type.Object(
  { site: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Site id or name; needed when a network name exists at several sites' })) },
  { additionalProperties: false },
);
