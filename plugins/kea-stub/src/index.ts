/**
 * DHCP backed by ISC Kea (stub). Selected with `capabilities.dhcp.use: kea-stub` and
 * configured under `plugins.kea-stub`: the Kea Control Agent's URL (with basic auth when
 * it asks for it), which Kea subnet-id holds each Sprout network, and the PXE boot fields.
 * Kea needs the host_cmds hook library and a hosts database for reservations to be added.
 */
import Type from 'typebox';
import { definePlugin, dhcpCapability, ipv4CidrPattern, ipv4Pattern } from '@sprout/kernel/sdk';
import { KeaClient } from './kea-client.ts';
import { KeaDhcp } from './kea-dhcp.ts';

const id = 'kea-stub';

export const configSchema = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'Kea Control Agent URL, e.g. http://kea.example.net:8000/' }),
    user: Type.Optional(Type.String({ minLength: 1, description: 'Basic-auth user, when the Control Agent has authentication configured' })),
    password: Type.Optional(Type.String({ description: 'Basic-auth password' })),
    service: Type.String({ default: 'dhcp4', description: 'The Kea server commands are forwarded to' }),
    subnets: Type.Record(Type.String(), Type.Integer({ minimum: 1, maximum: 4294967294 }), {
      propertyNames: { pattern: ipv4CidrPattern },
      default: {},
      description: 'Sprout network CIDR → Kea subnet-id',
    }),
    nextServer: Type.Optional(Type.String({ pattern: ipv4Pattern, description: 'siaddr for netbooting machines: the TFTP server' })),
    serverHostname: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'sname for netbooting machines' })),
    bootFileName: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'file for netbooting machines, e.g. undionly.kpxe' })),
    optionData: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1 })),
            code: Type.Optional(Type.Integer({ minimum: 1, maximum: 254 })),
            space: Type.Optional(Type.String({ minLength: 1 })),
            data: Type.String(),
            'always-send': Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        { description: 'Kea option-data given to netbooting machines' },
      ),
    ),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000, description: 'How long one command may take' }),
  },
  { additionalProperties: false },
);

export { KeaClient } from './kea-client.ts';
export { KeaDhcp } from './kea-dhcp.ts';

export default definePlugin({
  id,
  configSchema,
  setup(ctx) {
    const { config } = ctx;
    ctx.provide(
      dhcpCapability,
      () =>
        new KeaDhcp(
          new KeaClient({
            pluginId: id,
            url: config.url,
            user: config.user,
            password: config.password,
            service: config.service ?? 'dhcp4',
            timeoutMs: config.timeoutMs ?? 10_000,
          }),
          config,
          id,
        ),
    );
  },
});
