export { loadConfig, type LoadedConfig } from './load-config.ts';
export { readConfig, parseListen, environmentOverrides, type LoadConfigOptions, type RawConfig } from './read-config.ts';
export { configSchema, type SproutConfig } from './schema.ts';
export { maskSecrets } from './mask-secrets.ts';
export { schemaProblems } from './schema-errors.ts';
