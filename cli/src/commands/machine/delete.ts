import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';

export class MachineDeleteCommand extends SproutCommand {
  static paths = [['machine', 'delete']];
  static usage = Command.Usage({
    category: 'Machines',
    description: 'Delete a machine that is not allocated, deployed or busy',
    examples: [['Delete', 'sprout machine delete node-01']],
  });

  machine = Option.String({ name: 'machine' });

  async run() {
    await ok(this.api().typed.DELETE('/v1/machines/{id}', { params: { path: { id: this.machine } } }));
    this.print({ deleted: this.machine }, () => `deleted machine ${this.machine}`);
  }
}
