/**
 * The view of the kernel hooks a plugin gets: `tap(fn)` only, named after the plugin,
 * with any exception rethrown as SPROUT_ERR_HOOK_FAILED naming plugin and hook, so a
 * failing tap is never anonymous.
 */
import { SproutError, isSproutError } from '../errors/index.ts';
import type { HookName, KernelHooks } from './hooks.ts';

type TapArgs<H> = H extends { tapPromise(options: any, fn: (...args: infer A) => Promise<infer R>): void } ? { args: A; result: R } : never;

export type PluginHooks = {
  readonly [K in HookName]: {
    tap(fn: (...args: TapArgs<KernelHooks[K]>['args']) => Promise<TapArgs<KernelHooks[K]>['result']> | TapArgs<KernelHooks[K]>['result']): void;
  };
};

export function hooksForPlugin(hooks: KernelHooks, pluginId: string): PluginHooks {
  const view: Record<string, unknown> = {};
  for (const name of Object.keys(hooks) as HookName[]) {
    const hook = hooks[name] as unknown as { tapPromise(opts: { name: string }, fn: (...a: unknown[]) => Promise<unknown>): void };
    view[name] = {
      tap(fn: (...args: unknown[]) => unknown) {
        hook.tapPromise({ name: pluginId }, async (...args: unknown[]) => {
          try {
            return await fn(...args);
          } catch (err) {
            if (isSproutError(err, 'SPROUT_ERR_HOOK_FAILED')) throw err;
            const message = err instanceof Error ? err.message : String(err);
            throw new SproutError('SPROUT_ERR_HOOK_FAILED', `plugin ${pluginId} failed in hook ${name}: ${message}`, {
              context: { plugin: pluginId, hook: name },
              cause: err,
            });
          }
        });
      },
    };
  }
  return Object.freeze(view) as PluginHooks;
}
