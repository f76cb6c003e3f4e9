/**
 * `sync-site`: applies the site's desired state (or a machine's part of it) to the agent's
 * local store and reports what changed, collection by collection (added, removed, changed).
 */
import type { AgentTask } from '@sprout/kernel';
import type { DesiredStateStore } from '../desired-state-store.ts';

const collections: Record<string, (entry: any) => string> = {
  networks: (n) => n.id,
  reservations: (r) => `${r.siteId}/${r.mac}`,
  bootIntents: (b) => b.machineId,
  dnsRecords: (d) => `${d.zone}/${d.name}/${d.type}`,
};

export function syncSiteTask(store: DesiredStateStore): AgentTask {
  return async (item, ctx) => {
    const published = item.payload.desiredState as Record<string, unknown> | undefined;
    if (!published || typeof published !== 'object') throw new Error('sync-site work item carries no desiredState');
    const previous = store.get();
    const next = store.apply(published);
    const changes: Record<string, { added: number; removed: number; changed: number; total: number }> = {};
    for (const [name, keyOf] of Object.entries(collections)) {
      const before = new Map(((previous[name] as unknown[]) ?? []).map((e) => [keyOf(e), JSON.stringify(e)]));
      const after = new Map(((next[name] as unknown[]) ?? []).map((e) => [keyOf(e), JSON.stringify(e)]));
      let added = 0;
      let changed = 0;
      for (const [key, value] of after) {
        if (!before.has(key)) added++;
        else if (before.get(key) !== value) changed++;
      }
      const removed = [...before.keys()].filter((k) => !after.has(k)).length;
      changes[name] = { added, removed, changed, total: after.size };
    }
    const summary = Object.entries(changes).map(([name, c]) => `${name}: +${c.added} -${c.removed} ~${c.changed} (${c.total})`).join(', ');
    ctx.log(`applied desired state: ${summary}`);
    return { changes };
  };
}
