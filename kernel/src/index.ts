/**
 * @sprout/kernel's public SDK: the only module plugins and the CLI import. What is not
 * exported here is a kernel internal.
 */
export * from './errors/index.ts';
export * from './capabilities/index.ts';
export * from './net/ipv4.ts';
export { macPattern, normalisedMacPattern, parseMac, normaliseMac } from './net/mac.ts';
export { UpstreamClient, type UpstreamClientOptions, type UpstreamCallOptions, type UpstreamAnswer } from './net/upstream-client.ts';
export {
  createHooks,
  beforeHookBudgetMs,
  inTransactionHooks,
  type Removal,
  type KernelHooks,
  type HookName,
  type MachineTransition,
  type Veto,
  type Denial,
  type AuthorizeRequest,
  type WorkflowStepEvent,
  type AuditEvent,
} from './hooks/hooks.ts';
export type { PluginHooks } from './hooks/plugin-hooks.ts';
export type { KernelRead, ReadyMachine } from './plugins/kernel-read.ts';
export {
  definePlugin,
  httpServiceDefaults,
  type PluginDefinition,
  type PluginContext,
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
export type { PluginManifest } from './plugins/manifest.ts';
export { packageNameFor, installCommand } from './plugins/resolve-name.ts';
export { importDefinition } from './plugins/load.ts';
export { validatePluginPackage, type PackageValidation } from './plugins/validate-package.ts';
export * from './config/index.ts';
export { roles, type Role, type Principal } from './auth/principal.ts';
export { adminTokenFile } from './auth/bootstrap-admin.ts';
export { createTokenLocally, type LocalTokenInput } from './auth/local-token.ts';
export { Kernel, type KernelOptions } from './kernel.ts';
export { inspectPlugins, type PluginStatus } from './plugins/inspect.ts';
export { builtinPluginsOf, packagesIn, resolvePluginPackage } from './plugins/builtins.ts';
export { kernelApiVersion, kernelVersion } from './version.ts';
export { openStore, type Store } from './store/open-store.ts';
export { ensurePrivateDir, writePrivateFile } from './store/private-dir.ts';
export { logDestination } from './logging/log-destination.ts';
export { migrateToLatest, pendingMigrations, kernelMigrations, type MigrationFolder } from './store/migrate.ts';
export type { RouteAuth } from './api/route-auth.ts';
export type { AuditRecord, AuditQuery } from './audit/audit-log.ts';
export { machineStatuses, transitions, operatorActionsFrom, type MachineStatus, type LifecycleAction } from './domain/lifecycle/transitions.ts';
export { systemClock, type Clock, type StatusReason } from './domain/lifecycle/lifecycle.ts';
export type { WorkflowView } from './domain/workflows/workflow-service.ts';
export type { MachineView } from './domain/machines/machine-service.ts';
export type { SiteView } from './domain/sites/site-service.ts';
export { imageNamePattern, isImageUrl, matchImageName, type ReportedImage } from './domain/sites/site-images.ts';
export {
  SiteDesiredStateSchema,
  BootIntentSchema,
  desiredStateProblems,
  type SiteDesiredStateDocument,
  type BootIntent,
} from './domain/sites/desired-state-schema.ts';
export { AgentReportSchema, reportPayloadSchemas, reportProblem, reportPayloadProblem, type ReportProblem } from './domain/agents/report-schema.ts';
export { createMetricsRegistry, checkMetricName, metricsContentType, durationBuckets, Counter, Gauge, Histogram, Registry } from './metrics/registry.ts';
export { readTlsMaterial, type TlsFiles, type TlsMaterial } from './tls/server-tls.ts';
export { trustingDispatcher, trustProcessWide, explainTlsFailure, type HttpDispatcher } from './tls/trust.ts';
