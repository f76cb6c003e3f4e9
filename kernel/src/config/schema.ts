/**
 * The shape of `sprout.yaml`. One schema validates the file and gives the TypeScript
 * type; defaults live here and nowhere else.
 */
import Type, { type Static } from 'typebox';

const HostPort = Type.String({ pattern: '^[^\\s:]+:[0-9]{1,5}$|^\\[[0-9a-fA-F:]+\\]:[0-9]{1,5}$', description: 'host:port' });

export const configSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, description: 'Where the embedded database, the admin token and plugins live' }),
    listen: HostPort,
    publicUrl: Type.Optional(Type.String({ description: 'URL agents and CLIs use to reach the API' })),
    database: Type.Object(
      { url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL URL; unset means the embedded PGlite' })) },
      { additionalProperties: false },
    ),
    nats: Type.Object(
      { url: Type.Optional(Type.String({ pattern: '^(nats|tls)://', description: 'NATS URL; unset means the HTTP transport' })) },
      { additionalProperties: false },
    ),
    pluginDir: Type.String({ minLength: 1, description: 'npm prefix third-party plugins install into' }),
    capabilities: Type.Record(
      Type.String(),
      Type.Object({ use: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    ),
    plugins: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
    log: Type.Object(
      { level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))) },
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
