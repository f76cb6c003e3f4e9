import { SproutCommand, Command, Option } from '@sprout/kernel/cli';

export class MachineDeleteCommand extends SproutCommand {
  static paths = [['machine', 'delete']];
  static usage = Command.Usage({ category: 'Machines', description: 'Delete a machine that is not allocated, deployed or busy', examples: [['Delete', 'sprout machine delete node-01']] });

  machine = Option.String({ name: 'machine' });

  async run() {
    await this.api().delete(`v1/machines/${encodeURIComponent(this.machine)}`);
    this.print({ deleted: this.machine }, () => `deleted machine ${this.machine}`);
  }
}
