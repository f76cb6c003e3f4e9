/**
 * `sync-site`: the manual push (`sprout site sync`). The agent follows the site's desired
 * state by itself; this fetches the current document at once and reports the revision it
 * serves afterwards, so an operator sees the agent caught up (or why not).
 */
import type { AgentTask } from '@sprout/kernel';
import type { DesiredStateFollower } from '../desired-state-follower.ts';

export function syncSiteTask(follower: DesiredStateFollower): AgentTask {
  return async (_item, ctx) => {
    const revision = await follower.refresh();
    if (follower.error) throw new Error(`the site's desired state was refused: ${follower.error}`);
    ctx.log(`serving desired state revision ${revision ?? 'none'}`);
    return { revision };
  };
}
