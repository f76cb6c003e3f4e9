/**
 * Machine input and output shapes, and the normalisation every entry path shares
 * (API, CSV import): MAC addresses to lowercase colon form, hostnames to lowercase
 * DNS labels.
 */
import Type, { type Static } from 'typebox';
import { macPattern } from '../../net/mac.ts';

export const Hostname = Type.String({ pattern: '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$', description: 'DNS label (stored lowercase)' });
export const Mac = Type.String({
  pattern: macPattern,
  description: 'MAC address: aa:bb:cc:dd:ee:ff, AA-BB-…, aabb.ccdd.eeff or aabbccddeeff',
});
export const Arch = Type.Union([Type.Literal('x86_64'), Type.Literal('arm64')]);
export const BootMode = Type.Union([Type.Literal('bios'), Type.Literal('uefi')]);
export const Tag = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$' });

export const InterfaceInput = Type.Object(
  { mac: Mac, name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,32}$' })), pxe: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export const BmcOptions = Type.Record(
  Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$' }),
  Type.Union([Type.String({ maxLength: 256 }), Type.Number(), Type.Boolean()]),
  {
    maxProperties: 16,
    description: "Driver settings, e.g. IPMI's cipherSuite or Redfish's systemPath",
  },
);
/**
 * A machine's BMC as given on create, update and import. `password` (or a Redfish token)
 * is write-only: sealed apart from this record and never shown again; `null` clears it.
 */
export const Bmc = Type.Object(
  {
    type: Type.String({
      minLength: 1,
      maxLength: 32,
      pattern: '^[a-z][a-z0-9-]*$',
      description: "The power driver: ipmi, redfish, manual, lab, or a plugin's own",
    }),
    address: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Host, host:port or URL of the BMC; not for manual' })),
    username: Type.Optional(Type.String({ maxLength: 128 })),
    password: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: 1024 }), Type.Null()], {
        description: 'Write-only: the BMC password or Redfish token; null clears it',
      }),
    ),
    insecure: Type.Optional(Type.Boolean({ description: "Accept the BMC's self-signed TLS certificate (Redfish)" })),
    options: Type.Optional(BmcOptions),
  },
  { additionalProperties: false },
);
export type BmcInput = Static<typeof Bmc>;
/** The BMC as every route shows it: never the password, only whether one is set. */
export const BmcView = Type.Object({
  type: Type.String(),
  address: Type.Union([Type.String(), Type.Null()]),
  username: Type.Union([Type.String(), Type.Null()]),
  insecure: Type.Boolean(),
  options: Type.Record(Type.String(), Type.Unknown()),
  credentialsSet: Type.Boolean(),
});
export const PowerView = Type.Object({
  state: Type.Union([Type.Literal('on'), Type.Literal('off'), Type.Literal('unknown'), Type.Null()], { description: 'null: never checked' }),
  checkedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why the last check failed' }),
});
export const Expected = Type.Object(
  {
    cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })),
    memoryMiB: Type.Optional(Type.Integer({ minimum: 1 })),
    disks: Type.Optional(Type.Integer({ minimum: 0, maximum: 1024 })),
  },
  { additionalProperties: false },
);

export const MachineInput = Type.Object(
  {
    site: Type.String({ minLength: 1, maxLength: 64, description: 'Site id or name' }),
    hostname: Hostname,
    arch: Arch,
    bootMode: BootMode,
    interfaces: Type.Array(InterfaceInput, { minItems: 1, maxItems: 64 }),
    tags: Type.Optional(Type.Array(Tag, { maxItems: 64 })),
    bmc: Type.Optional(Bmc),
    expected: Type.Optional(Expected),
  },
  { additionalProperties: false },
);
export type MachineInput = Static<typeof MachineInput>;

export const MachineUpdate = Type.Object(
  {
    hostname: Type.Optional(Hostname),
    tags: Type.Optional(Type.Array(Tag, { maxItems: 64 })),
    bmc: Type.Optional(Type.Union([Bmc, Type.Null()])),
    expected: Type.Optional(Expected),
    owner: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type MachineUpdate = Static<typeof MachineUpdate>;

export const StatusReasonSchema = Type.Object(
  { code: Type.String(), message: Type.String(), step: Type.Optional(Type.String()), workflow: Type.Optional(Type.String()) },
  { additionalProperties: true },
);

export const MachineSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  site: Type.Object({ id: Type.String(), name: Type.String() }),
  hostname: Type.String(),
  arch: Arch,
  bootMode: BootMode,
  status: Type.String(),
  statusReason: Type.Union([StatusReasonSchema, Type.Null()], { description: 'Why the machine is in its status; always set for failure states' }),
  statusChangedAt: Type.String({ format: 'date-time' }),
  statusDeadline: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the watchdog fails an in-progress state' }),
  currentWorkflow: Type.Union([Type.String(), Type.Null()]),
  allowedActions: Type.Array(Type.String()),
  tags: Type.Array(Type.String()),
  interfaces: Type.Array(Type.Object({ id: Type.String(), mac: Type.String(), name: Type.String(), pxe: Type.Boolean() })),
  bmc: Type.Union([BmcView, Type.Null()]),
  power: PowerView,
  powerMismatch: Type.Union([Type.String(), Type.Null()], { description: "e.g. 'deployed but powered off': the BMC disagrees with the machine's status" }),
  expected: Type.Record(Type.String(), Type.Unknown()),
  hardware: Type.Record(Type.String(), Type.Unknown()),
  owner: Type.Union([Type.String(), Type.Null()]),
  addresses: Type.Optional(
    Type.Array(Type.Object({ address: Type.String(), network: Type.String(), interface: Type.Union([Type.String(), Type.Null()]) }), {
      description: 'Its addresses in the networks of its site (shown by GET /v1/machines/{id} only)',
    }),
  ),
  hardwareTests: Type.Array(
    Type.Object({
      name: Type.String(),
      status: Type.String(),
      durationMs: Type.Integer(),
      output: Type.String(),
      at: Type.String(),
      workflow: Type.Union([Type.String(), Type.Null()]),
    }),
    { description: 'The latest result of each hardware test' },
  ),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

export { normaliseMac } from '../../net/mac.ts';
