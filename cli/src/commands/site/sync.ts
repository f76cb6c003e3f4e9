import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import { followOutput, followWorkflow, workflowDetails } from '../../render/workflow.ts';

export class SiteSyncCommand extends SproutCommand {
  static paths = [['site', 'sync']];
  static usage = Command.Usage({
    category: 'Sites',
    description: "Publish the site's desired state to its agent (networks, reservations, boot intents, DNS)",
    examples: [['Sync and wait', 'sprout site sync fra1 --watch']],
  });

  site = Option.String({ name: 'site' });
  watch = Option.Boolean('--watch', false, { description: 'Follow the workflow until it ends; exit 1 unless it succeeds' });

  async run() {
    const api = this.api();
    const started = await ok(api.typed.POST('/v1/sites/{id}/sync', { params: { path: { id: this.site } } }));
    if (!this.watch) {
      this.print(started, () => workflowDetails(started));
      return 0;
    }
    const out = followOutput(this.context.stdout, this.json);
    const end = await followWorkflow(api, started.id, out.write, { ticker: out.ticker });
    if (this.json) this.print(end, () => '');
    return end.state === 'succeeded' ? 0 : 1;
  }
}
