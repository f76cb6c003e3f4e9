/**
 * The shape of `sprout.yaml`. One schema validates the file and gives the TypeScript
 * type; defaults live here and nowhere else.
 */
import Type, { type Static } from 'typebox';
import { hostPortPattern } from './host-port.ts';

const HostPort = Type.String({ pattern: hostPortPattern, description: 'host:port' });

export const configSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, description: 'Where the embedded database, the admin token and plugins live' }),
    listen: HostPort,
    tls: Type.Optional(
      Type.Object(
        {
          cert: Type.String({ minLength: 1, description: 'PEM certificate (chain) file the API serves; relative to the config file' }),
          key: Type.String({ minLength: 1, description: 'PEM private key file of that certificate' }),
          ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of intermediate CA certificates sent with the certificate' })),
        },
        { additionalProperties: false, description: 'Serve the API over HTTPS; SIGHUP reloads the files' },
      ),
    ),
    publicUrl: Type.Optional(Type.String({ description: 'URL agents and CLIs use to reach the API' })),
    database: Type.Object(
      { url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL URL; unset means the embedded PGlite' })) },
      { additionalProperties: false },
    ),
    pluginDir: Type.String({ minLength: 1, description: 'npm prefix third-party plugins install into' }),
    capabilities: Type.Record(Type.String(), Type.Object({ use: Type.String({ minLength: 1 }) }, { additionalProperties: false })),
    plugins: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
    log: Type.Object(
      { level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))) },
      { additionalProperties: false },
    ),
    agents: Type.Object(
      {
        heartbeatSeconds: Type.Number({ minimum: 0.1, description: 'how often agents send a heartbeat' }),
        offlineAfterMissed: Type.Integer({ minimum: 1, description: 'missed heartbeats after which an agent is offline' }),
        joinTokenTtlSeconds: Type.Integer({ minimum: 60, description: 'how long a site join token stays valid' }),
      },
      { additionalProperties: false },
    ),
    lifecycle: Type.Object(
      {
        timeouts: Type.Object(
          {
            commissioning: Type.Integer({ minimum: 1, description: 'seconds a machine may stay commissioning' }),
            testing: Type.Integer({ minimum: 1, description: 'seconds a machine may stay testing' }),
            deploying: Type.Integer({ minimum: 1, description: 'seconds a machine may stay deploying' }),
            releasing: Type.Integer({ minimum: 1, description: 'seconds a machine may stay releasing' }),
            firstBoot: Type.Integer({
              minimum: 1,
              description: "seconds a deploy waits for the installed OS's first-boot report (cloud-init phone_home) after the install",
            }),
          },
          { additionalProperties: false },
        ),
        watchdogIntervalSeconds: Type.Number({ minimum: 0.05, description: 'how often overdue machines are looked for' }),
        keepAddressesOnRelease: Type.Boolean({ description: 'keep IP, DHCP reservation and DNS records of a released machine' }),
        hardwareTests: Type.Boolean({ description: 'run hardware tests while commissioning unless a request says otherwise' }),
      },
      { additionalProperties: false },
    ),
    audit: Type.Object(
      {
        repeatWindowSeconds: Type.Number({
          minimum: 1,
          maximum: 86_400,
          description: 'identical denials (same source, actor, action and reason) within this many seconds of the first are one audit record with a count',
        }),
        retentionDays: Type.Optional(
          Type.Integer({ minimum: 1, description: 'audit records older than this many days are pruned hourly; unset keeps everything' }),
        ),
      },
      { additionalProperties: false },
    ),
    power: Type.Object(
      {
        credentialKey: Type.Optional(
          Type.String({
            pattern: '^[A-Za-z0-9+/]{43}=$',
            description:
              'base64 of 32 random bytes (openssl rand -base64 32): the AES-256-GCM key BMC passwords are stored under; unset: SPROUT_POWER_CREDENTIAL_KEY, else a key generated in dataDir',
          }),
        ),
        pollSeconds: Type.Integer({
          minimum: 0,
          maximum: 86_400,
          description: 'how often each site polls the power state of its machines with a BMC; 0 never',
        }),
        pollConcurrency: Type.Integer({ minimum: 1, maximum: 256, description: 'BMCs an agent asks at once while polling' }),
        callTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 600, description: 'how long one BMC operation may take before it fails' }),
      },
      { additionalProperties: false },
    ),
    metrics: Type.Object(
      {
        enabled: Type.Boolean({ description: 'serve Prometheus metrics at /metrics' }),
        access: Type.Union([Type.Literal('viewer'), Type.Literal('public')], {
          description: 'viewer: a bearer token with role viewer (or higher) is needed; public: anyone who reaches the API may read /metrics',
        }),
      },
      { additionalProperties: false },
    ),
    auth: Type.Object(
      { adminToken: Type.Optional(Type.String({ minLength: 16, description: 'Admin token to install on first start' })) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type SproutConfig = Static<typeof configSchema>;
