/**
 * The SDK for command-line code, builtin or from plugins (`@sprout/kernel/cli`). Light
 * on purpose: `sprout --help` loads it, so it must not pull in the server.
 */
export { Command, Option } from 'clipanion';
export { SproutCommand } from './sprout-command.ts';
export { ApiClient, ApiError, resolveTarget, type ApiTarget, type ProblemBody, type LocalDefaults } from './api-client.ts';
export { ok, type SproutClient, type components as ApiSchemas, type paths as ApiPaths } from '@sprout/client';
export { readProfile, writeProfile, profilePath, type Profile } from './profile.ts';
export { table } from './table.ts';
export { readFlagFile, readSecretOption, FlagInputError, type SecretSources } from './flag-input.ts';
export { SproutError } from '../errors/sprout-error.ts';
export { maskUrls } from '../config/mask-secrets.ts';
// The value sets the CLI validates flags against before asking the API (light modules, no server code).
export { machineStatuses } from '../domain/lifecycle/transitions.ts';
export { workflowStates, workflowKinds } from '../domain/workflows/definitions.ts';
// The one IPv4 rule (also in the light SDK): no imports, so it costs nothing to load here.
export { isIpv4, parseIpv4, formatIpv4, compareIpv4 } from '../net/ipv4.ts';
