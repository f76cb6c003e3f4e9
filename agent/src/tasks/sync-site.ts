/**
 * `sync-site`: the manual push (`sprout site sync`). The agent follows the site's desired
 * state by itself; this fetches the current document at once and reports the revision it
 * serves afterwards, so an operator sees the agent caught up (or why not). A control plane
 * that is briefly unreachable (restarting) is asked again, for up to `patienceMs`.
 */
import type { AgentTask } from '@sprout/kernel/sdk';
import type { DesiredStateFollower } from '../desired-state-follower.ts';

export function syncSiteTask(follower: DesiredStateFollower, patienceMs = 90_000): AgentTask {
  return async (_item, ctx) => {
    const deadline = Date.now() + patienceMs;
    let revision: number | null;
    for (let attempt = 1; ; attempt++) {
      try {
        revision = await follower.refresh();
        break;
      } catch (err) {
        if (Date.now() + 1000 * attempt > deadline) throw new Error(`cannot fetch the site's desired state: ${(err as Error).message}`);
        ctx.log(`cannot fetch the site's desired state (${(err as Error).message}); trying again`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * attempt, 5000)));
      }
    }
    if (follower.error) throw new Error(`the site's desired state was refused: ${follower.error}`);
    ctx.log(`serving desired state revision ${revision ?? 'none'}`);
    return { revision };
  };
}
