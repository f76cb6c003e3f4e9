/**
 * The kernel's light SDK (`@sprout/kernel/sdk`): what a plugin's definition and agent part,
 * and the site agent itself, need — definePlugin and its types, capability refs, the error
 * table, the desired-state and report contracts, private files, TLS trust, log output,
 * the one IPv4, MAC, DNS-ownership and upstream-HTTP helper each package shares —
 * without the control plane. Nothing imported from here may load the HTTP server, the
 * store or the DI container (fastify, knex, pg, pglite, ajv, swagger, awilix):
 * agent/test/light-sdk.test.ts fails when an agent process loads one of them.
 *
 * The main entry (`@sprout/kernel`) re-exports all of this; control-plane code (routes,
 * migrations, stores) keeps importing it. prom-client is not here either: the metrics SDK
 * is `@sprout/kernel/metrics`, which the agent loads only when `metrics.listen` is set.
 */
export * from './errors/index.ts';
export * from './capabilities/index.ts';
export {
  definePlugin,
  httpServiceDefaults,
  type PluginDefinition,
  type PluginContext,
  type PluginAudit,
  type PluginAuditEntry,
  type AgentCaller,
  type AgentPart,
  type AgentTask,
  type AgentTaskContext,
  type AgentServiceContext,
  type AgentLeases,
  type AgentLeaseLookup,
  type AgentSightings,
  type AgentServiceFactory,
  type RunningAgentService,
  type SiteDesiredState,
} from './plugins/define-plugin.ts';
export type { PluginHooks } from './hooks/plugin-hooks.ts';
export type { KernelRead, ReadyMachine } from './plugins/kernel-read.ts';
export type { Removal } from './hooks/hooks.ts';
export type { PluginManifest } from './plugins/manifest.ts';
export { importDefinition, importAgentPart } from './plugins/import-definition.ts';
export { schemaProblems } from './config/schema-errors.ts';
export { maskSecrets, maskUrls, secretMask } from './config/mask-secrets.ts';
export type { SproutConfig } from './config/schema.ts';
export type { Role, Principal } from './auth/principal.ts';
export { kernelApiVersion, kernelVersion } from './version.ts';
export { ensurePrivateDir, writePrivateFile } from './store/private-dir.ts';
export { logDestination } from './logging/log-destination.ts';
export { hostPortPattern, parseHostPort } from './config/host-port.ts';
export * from './net/ipv4.ts';
export { macPattern, normalisedMacPattern, parseMac, normaliseMac } from './net/mac.ts';
export { stopWorkerProcesses } from './process/stop-workers.ts';
export { UpstreamClient, type UpstreamClientOptions, type UpstreamCallOptions, type UpstreamAnswer } from './net/upstream-client.ts';
export { imageNamePattern, isImageUrl, matchImageName, type ReportedImage } from './domain/sites/image-names.ts';
// The contract's checks, not its TypeBox schemas (SiteDesiredStateSchema, AgentReportSchema…: `@sprout/kernel`):
// building those loads TypeBox, ~20 MiB in every agent.
export type { SiteDesiredStateDocument, BootIntent } from './domain/sites/desired-state-schema.ts';
export type { WorkQueue, LeaseOptions, LeasedWork } from './domain/workflows/outbox-queue.ts';
export { desiredStateProblems, reportProblem, reportPayloadProblem, type ReportProblem } from './domain/agent-contract.ts';
export { readTlsMaterial, type TlsFiles, type TlsMaterial } from './tls/server-tls.ts';
export { trustingDispatcher, trustProcessWide, explainTlsFailure, type HttpDispatcher } from './tls/trust.ts';
export type { Registry } from './metrics/registry.ts';
export { metricsContentType } from './metrics/content-type.ts';
