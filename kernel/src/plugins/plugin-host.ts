/**
 * Runs the loaded plugins' `setup` in dependency order, handing each a context with
 * exactly what its manifest declared: it may provide what it `provides` and use what it
 * `consumes`, nothing else. Providers land in the DI container under `capability.<id>`.
 */
import type { WorkQueue } from '../domain/workflows/outbox-queue.ts';
import { asFunction, type AwilixContainer } from 'awilix';
import type { FastifyPluginAsync } from 'fastify';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Capability } from '../capabilities/define-capability.ts';
import type { SproutConfig } from '../config/schema.ts';
import { SproutError } from '../errors/index.ts';
import type { KernelHooks } from '../hooks/hooks.ts';
import { hooksForPlugin } from '../hooks/plugin-hooks.ts';
import type { PluginContext } from './define-plugin.ts';
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
      routes: (register: FastifyPluginAsync) => {
        this.routes.push({ pluginId: manifest.id, register });
      },
    });
  }
}
