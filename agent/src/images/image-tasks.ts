/**
 * The agent's image work: `image-import` and `image-remove`, queued by the control plane
 * for an operator's `sprout image import|remove`. Their results settle the request; the
 * next heartbeat carries the store's new list.
 */
import type { AgentTask } from '@sprout/kernel/sdk';
import type { ImageStore } from './image-store.ts';

export function imageTasks(store: ImageStore): Record<string, AgentTask> {
  return {
    'image-import': async (item, ctx) => {
      const { name, url, path, sha256 } = item.payload as { name: string; url?: string; path?: string; sha256: string };
      return store.import({ name, url, path, sha256 }, ctx.log);
    },
    'image-remove': async (item, ctx) => store.remove(String(item.payload.name), ctx.log),
  };
}
