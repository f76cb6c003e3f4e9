export { loadConfig, type LoadedConfig } from './load-config.ts';
export { readConfig, parseListen, environmentOverrides, type LoadConfigOptions, type RawConfig } from './read-config.ts';
export { configSchema, type SproutConfig } from './schema.ts';
export { maskSecrets, maskUrls, secretMask } from './mask-secrets.ts';
export { schemaProblems } from './schema-errors.ts';
