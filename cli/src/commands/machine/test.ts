import { Command, Option, ok, type SproutClient } from '@sprout/kernel/cli';
import { WorkflowActionCommand, type ActionBody } from './workflow-action.ts';

export class MachineTestCommand extends WorkflowActionCommand<ActionBody<'test'>> {
  static paths = [['machine', 'test']];
  static usage = Command.Usage({
    category: 'Machines',
    description: 'Run hardware tests on a ready (or failed_testing) machine',
    examples: [['Rerun all', 'sprout machine test node-01 --watch']],
  });

  tests = Option.Array('--test', { description: 'Run only these hardware tests' });

  body(): ActionBody<'test'> {
    return this.tests ? { hwtest: this.tests } : {};
  }

  start(api: SproutClient, id: string, body: ActionBody<'test'>) {
    return ok(api.POST('/v1/machines/{id}/test', { params: { path: { id } }, body }));
  }
}
