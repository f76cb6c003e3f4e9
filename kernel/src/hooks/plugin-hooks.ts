/**
 * The view of the kernel hooks a plugin gets: `tap(fn)` only, named after the plugin,
 * with any exception rethrown as SPROUT_ERR_HOOK_FAILED naming plugin and hook, so a
 * failing tap is never anonymous. A tap of a hook that runs inside the caller's
 * transaction (`inTransactionHooks`) that takes longer than its budget fails the same
 * way, so the transaction rolls back instead of holding its locks for as long as the
 * plugin takes.
 */
import { SproutError, isSproutError } from '../errors/index.ts';
import { beforeHookBudgetMs, inTransactionHooks, type HookName, type KernelHooks } from './hooks.ts';

type TapArgs<H> = H extends { tapPromise(options: any, fn: (...args: infer A) => Promise<infer R>): void } ? { args: A; result: R } : never;

export type PluginHooks = {
  readonly [K in HookName]: {
    tap(fn: (...args: TapArgs<KernelHooks[K]>['args']) => Promise<TapArgs<KernelHooks[K]>['result']> | TapArgs<KernelHooks[K]>['result']): void;
  };
};

export function hooksForPlugin(hooks: KernelHooks, pluginId: string, options: { budgetMs?: number } = {}): PluginHooks {
  const budgetMs = options.budgetMs ?? beforeHookBudgetMs;
  const view: Record<string, unknown> = {};
  for (const name of Object.keys(hooks) as HookName[]) {
    const hook = hooks[name] as unknown as { tapPromise(opts: { name: string }, fn: (...a: unknown[]) => Promise<unknown>): void };
    const budgeted = inTransactionHooks.has(name);
    view[name] = {
      tap(fn: (...args: unknown[]) => unknown) {
        hook.tapPromise({ name: pluginId }, async (...args: unknown[]) => {
          try {
            return budgeted
              ? await withinBudget(
                  Promise.resolve().then(() => fn(...args)),
                  budgetMs,
                  pluginId,
                  name,
                )
              : await fn(...args);
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

/** `work`, or SPROUT_ERR_HOOK_FAILED once `budgetMs` passed (the tap's own work is abandoned, its transaction rolls back). */
async function withinBudget<T>(work: Promise<T>, budgetMs: number, pluginId: string, hook: HookName): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new SproutError(
            'SPROUT_ERR_HOOK_FAILED',
            `plugin ${pluginId} took longer than ${budgetMs} ms in hook ${hook}, which runs inside the transaction; the change was rolled back`,
            {
              context: { plugin: pluginId, hook, budgetMs },
            },
          ),
        ),
      budgetMs,
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
