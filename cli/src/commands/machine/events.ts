import { SproutCommand, Command, Option, table, ok } from '@sprout/kernel/cli';

export class MachineEventsCommand extends SproutCommand {
  static paths = [['machine', 'events']];
  static usage = Command.Usage({
    category: 'Machines',
    description: "A machine's lifecycle history with reasons",
    examples: [['History', 'sprout machine events node-01']],
  });

  machine = Option.String({ name: 'machine' });

  async run() {
    const { items } = await ok(this.api().typed.GET('/v1/machines/{id}/events', { params: { path: { id: this.machine } } }));
    this.print(items, () =>
      table(
        ['AT', 'ACTION', 'FROM', 'TO', 'BY', 'REASON'],
        items.map((e) => [e.at, e.action, e.from, e.to, e.actor, e.reason?.message]),
      ),
    );
  }
}
