/**
 * Runs the loaded plugins' `setup` in dependency order, handing each a context with
 * exactly what its manifest declared: it may provide what it `provides` and use what it
 * `consumes`, nothing else. Providers land in the DI container under `capability.<id>`.
 */
import type { WorkQueue } from '../domain/workflows/outbox-queue.ts';
import { asFunction, type AwilixContainer } from 'awilix';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AuditLog } from '../audit/audit-log.ts';
import { actionOf, targetIdOf } from '../api/guard.ts';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Capability } from '../capabilities/define-capability.ts';
import type { SproutConfig } from '../config/schema.ts';
import { SproutError } from '../errors/index.ts';
import type { KernelHooks } from '../hooks/hooks.ts';
import { hooksForPlugin } from '../hooks/plugin-hooks.ts';
import type { AgentCaller, PluginAuditEntry, PluginContext } from './define-plugin.ts';
import { kernelRead } from './kernel-read.ts';
import type { LoadedPlugin } from './load.ts';
import type { PluginPlan } from './plan.ts';

export interface PluginRoutes {
  pluginId: string;
  register: FastifyPluginAsync;
}

export const capabilityKey = (id: string) => `capability.${id}`;

export class PluginHost {
  readonly routes: PluginRoutes[] = [];
  /** Routes of the agent protocol, for `/v1/agents/:id/` (see PluginContext.agentRoutes). */
  readonly agentRoutes: PluginRoutes[] = [];
  private readonly factories = new Map<string, Map<string, () => unknown>>();
  private readonly read = kernelRead();

  constructor(
    private readonly deps: {
      container: AwilixContainer;
      plan: PluginPlan;
      plugins: LoadedPlugin[];
      db: Knex;
      hooks: KernelHooks;
      logger: Logger;
      config: SproutConfig;
      workQueue: WorkQueue;
    },
  ) {}

  async setup(): Promise<void> {
    for (const plugin of this.deps.plugins) {
      const ctx = this.contextFor(plugin);
      if (plugin.definition.setup) {
        try {
          await plugin.definition.setup(ctx as PluginContext<any>);
        } catch (err) {
          throw new SproutError('SPROUT_ERR_PLUGIN_VALIDATION', `plugin ${plugin.manifest.id} failed during setup: ${(err as Error).message}`, {
            context: { plugin: plugin.manifest.id },
            cause: err,
          });
        }
      }
    }
    this.registerProviders();
  }

  /** Ids of the plugins serving a capability, in the container's order. */
  providersOf(capabilityId: string): string[] {
    return this.deps.plan.providers.get(capabilityId) ?? [];
  }

  private registerProviders(): void {
    for (const [capabilityId, pluginIds] of this.deps.plan.providers) {
      const made = pluginIds.map((pluginId) => {
        const factory = this.factories.get(capabilityId)?.get(pluginId);
        if (!factory) {
          throw new SproutError(
            'SPROUT_ERR_PLUGIN_VALIDATION',
            `plugin ${pluginId} declares it provides ${capabilityId} but registered no provider in setup()`,
            {
              context: { plugin: pluginId, capability: capabilityId },
            },
          );
        }
        return factory;
      });
      this.deps.container.register(capabilityKey(capabilityId), asFunction(() => Promise.all(made.map((factory) => factory()))).singleton());
    }
  }

  private contextFor(plugin: LoadedPlugin): PluginContext {
    const { manifest } = plugin;
    const { container } = this.deps;
    const resolveAll = async <T>(capability: Capability<T>): Promise<T[]> => {
      if (!manifest.consumes.includes(capability.id)) {
        throw new SproutError('SPROUT_ERR_PLUGIN_VALIDATION', `plugin ${manifest.id} uses ${capability.id} without declaring it in "consumes"`, {
          context: { plugin: manifest.id, capability: capability.id },
        });
      }
      return container.resolve<Promise<T[]>>(capabilityKey(capability.id), { allowUnregistered: true }) ?? [];
    };
    return Object.freeze({
      id: manifest.id,
      config: plugin.config,
      kernelConfig: this.deps.config,
      logger: this.deps.logger.child({ plugin: manifest.id }),
      db: this.deps.db,
      read: this.read,
      hooks: hooksForPlugin(this.deps.hooks, manifest.id),
      workQueue: this.deps.workQueue,
      provide: <T>(capability: Capability<T>, factory: () => T | Promise<T>) => {
        if (!manifest.provides.includes(capability.id)) {
          throw new SproutError('SPROUT_ERR_PLUGIN_VALIDATION', `plugin ${manifest.id} provides ${capability.id} without declaring it in "provides"`, {
            context: { plugin: manifest.id, capability: capability.id },
          });
        }
        const byPlugin = this.factories.get(capability.id) ?? new Map();
        byPlugin.set(manifest.id, factory);
        this.factories.set(capability.id, byPlugin);
      },
      use: async <T>(capability: Capability<T>): Promise<T> => {
        const [provider] = await resolveAll(capability);
        if (!provider) throw new SproutError('SPROUT_ERR_CAPABILITY_UNAVAILABLE', `no active provider for ${capability.id}`);
        return provider;
      },
      useAll: resolveAll,
      ownProvider: async <T>(capability: Capability<T>): Promise<T | undefined> => {
        if (!manifest.provides.includes(capability.id)) {
          throw new SproutError(
            'SPROUT_ERR_PLUGIN_VALIDATION',
            `plugin ${manifest.id} asks for its provider of ${capability.id} without declaring it in "provides"`,
            {
              context: { plugin: manifest.id, capability: capability.id },
            },
          );
        }
        const index = this.providersOf(capability.id).indexOf(manifest.id);
        if (index < 0) return undefined;
        const providers = await container.resolve<Promise<T[]>>(capabilityKey(capability.id), { allowUnregistered: true });
        return providers?.[index];
      },
      routes: (register: FastifyPluginAsync) => {
        this.routes.push({ pluginId: manifest.id, register });
      },
      agentRoutes: (register: FastifyPluginAsync) => {
        this.agentRoutes.push({ pluginId: manifest.id, register });
      },
      agentOf: (request: FastifyRequest): AgentCaller => {
        const { principal } = request;
        if (principal?.kind !== 'agent' || !principal.agentId || !principal.siteId) {
          throw new SproutError('SPROUT_ERR_INTERNAL', `plugin ${manifest.id} asked for the agent of ${request.method} ${request.url}, which no agent called`);
        }
        return { agentId: principal.agentId, siteId: principal.siteId, actor: principal.actor };
      },
      audit: Object.freeze({
        record: async (entry: PluginAuditEntry, request?: FastifyRequest) => {
          const auditLog = container.resolve<AuditLog>('auditLog');
          const auth = request?.routeOptions.config.auth;
          await auditLog.record({
            actor: request ? request.principal.actor : `plugin:${manifest.id}`,
            actorRole: request ? request.principal.role : null,
            action: entry.action ?? (request ? actionOf(request) : `${manifest.id}.event`),
            targetType: entry.targetType !== undefined ? entry.targetType : (auth?.target ?? null),
            targetId: entry.targetId !== undefined ? entry.targetId : request ? targetIdOf(request) : null,
            requestId: request ? String(request.id) : null,
            sourceAddress: request?.ip ?? null,
            outcome: entry.outcome,
            details: entry.details ?? {},
          });
          if (request) request.audited = true;
        },
      }),
    });
  }
}
