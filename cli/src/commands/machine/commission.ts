import { Command, Option, ok, type SproutClient } from '@sprout/kernel/cli';
import { WorkflowActionCommand, type ActionBody } from './workflow-action.ts';

export class MachineCommissionCommand extends WorkflowActionCommand<ActionBody<'commission'>> {
  static paths = [['machine', 'commission']];
  static usage = Command.Usage({
    category: 'Machines',
    description: 'Commission: boot, collect hardware facts, run hardware tests → ready',
    examples: [
      ['With every test', 'sprout machine commission node-01 --watch'],
      ['Only some tests', 'sprout machine commission node-01 --test cpu-inventory --test memory-size'],
      ['Without tests (recorded)', 'sprout machine commission node-01 --no-hwtest'],
      ['Several at once, reported per machine', 'sprout machine commission node-01 node-02 node-03'],
      ['Every machine tagged rack1, waiting for each', 'sprout machine commission --tag rack1 --watch'],
    ],
  });

  hwtest = Option.Boolean('--hwtest', true, { description: 'Run hardware tests (--no-hwtest disables them, and says so in the audit trail)' });
  tests = Option.Array('--test', { description: 'Run only these hardware tests' });

  body(): ActionBody<'commission'> {
    return { hwtest: this.hwtest ? (this.tests ?? true) : false };
  }

  start(api: SproutClient, id: string, body: ActionBody<'commission'>) {
    return ok(api.POST('/v1/machines/{id}/commission', { params: { path: { id } }, body }));
  }
}
