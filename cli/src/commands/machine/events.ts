import { SproutCommand, Command, Option, table } from '@sprout/kernel/cli';

interface MachineEvent {
  at: string;
  action: string;
  from: string | null;
  to: string;
  reason: { message?: string } | null;
  actor: string;
}

export class MachineEventsCommand extends SproutCommand {
  static paths = [['machine', 'events']];
  static usage = Command.Usage({ category: 'Machines', description: "A machine's lifecycle history with reasons", examples: [['History', 'sprout machine events node-01']] });

  machine = Option.String({ name: 'machine' });

  async run() {
    const { items } = await this.api().get<{ items: MachineEvent[] }>(`v1/machines/${encodeURIComponent(this.machine)}/events`);
    this.print(items, () => table(['AT', 'ACTION', 'FROM', 'TO', 'BY', 'REASON'], items.map((e) => [e.at, e.action, e.from, e.to, e.actor, e.reason?.message])));
  }
}
